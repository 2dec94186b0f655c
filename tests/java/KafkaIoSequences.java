/*
 * tests/java/KafkaIoSequences.java - performs, on real files, exactly the JDK call sequences an Apache
 * Kafka broker performs on its log segments (see kafka-io-surface.md sections 2-4), and checks every
 * byte and every size. It runs against the plain kernel and under LD_PRELOAD=libpafka.so; the same
 * assertions hold in both, plus pool-residency assertions when the shim is loaded.
 *
 * usage: java KafkaIoSequences PHASE MODE
 *   PHASE: suite | crash-write | crash-verify | live-write | live-verify
 *   MODE:  shim  (LD_PRELOAD must contain libpafka and the library must be mapped into this JVM)
 *          plain (it must not be)
 * environment (tests/lib.sh pf_test_env): PAFKA_TEST_DIR (log dir = $PAFKA_TEST_DIR/logs),
 *   PAFKA_TEST_POOLDIR (pool file = $PAFKA_TEST_POOLDIR/pafka.pool, see src/pool_format.h).
 *
 * crash-write prints "READY <pid>" once everything is written and then blocks on stdin; the driver
 * SIGKILLs it, and crash-verify (a fresh JVM) replays the same plan without I/O and checks the files.
 * live-write prints READY while two threads keep appending/rolling/deleting; the kill lands mid-I/O and
 * live-verify checks that every file is an exact stream slice (sealed) or a stream prefix + zeros (active).
 * Any failure prints "FAIL [step]: what, expected vs got" and exits 1. Success prints "OK ..." and exits 0.
 * Java 17 source level (compiled by both JDK 17 and JDK 25).
 */

import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

public class KafkaIoSequences {
	static final long MiB = 1024 * 1024;
	static String step = "startup";
	static boolean shim;
	static Path logs;
	static Path poolFile;
	static final ExecutorService exec = Executors.newCachedThreadPool(r -> {
		Thread t = new Thread(r, "kio-helper");
		t.setDaemon(true);
		return t;
	});

	// ------------------------------------------------------------------------------------------------
	// assertions and reporting

	static final class Fail extends RuntimeException {
		private static final long serialVersionUID = 1L;

		Fail(String m) {
			super(m);
		}
	}

	static void check(boolean cond, String fmt, Object... args) {
		if (!cond)
			throw new Fail(String.format(fmt, args));
	}

	static void eq(long got, long exp, String fmt, Object... args) {
		if (got != exp)
			throw new Fail(String.format(fmt, args) + ": expected " + exp + ", got " + got);
	}

	static void step(String s) {
		step = s;
		System.out.println("  step: " + s);
	}

	static void info(String s) {
		System.out.println("    " + s);
	}

	/** Compares got[0..n) with exp[expOff..expOff+n); fileOff names the file offset of got[0]. */
	static void same(String what, byte[] exp, int expOff, byte[] got, int gotOff, int n, long fileOff) {
		int i = Arrays.mismatch(exp, expOff, expOff + n, got, gotOff, gotOff + n);
		if (i < 0)
			return;
		long off = fileOff + i;
		int bad = 0, zeros = 0, last = i;
		for (int k = i; k < n; k++) {
			if (exp[expOff + k] != got[gotOff + k]) {
				bad++;
				last = k;
				if (got[gotOff + k] == 0)
					zeros++;
			}
		}
		throw new Fail(String.format(
				"%s: content differs at file offset %d (64KiB block %d +%d): expected 0x%02x, got 0x%02x; "
						+ "%d of the %d bytes compared in [%d,%d) differ (last at %d), %d of those read as zero",
				what, off, off / 65536, off % 65536, exp[expOff + i] & 0xff, got[gotOff + i] & 0xff, bad, n,
				fileOff, fileOff + n, fileOff + last, zeros));
	}

	// ------------------------------------------------------------------------------------------------
	// deterministic data

	static long mix(long z) {
		z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
		z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
		return z ^ (z >>> 31);
	}

	/** n pseudo-random bytes determined by seed (never long runs of zeros). */
	static byte[] gen(long seed, int n) {
		byte[] d = new byte[n];
		long s = mix(seed * 0x9E3779B97F4A7C15L + 0x632BE59BD9B4E019L);
		for (int i = 0; i < n; i += 8) {
			long v = mix(s + i);
			for (int k = 0; k < 8 && i + k < n; k++)
				d[i + k] = (byte) (v >>> (8 * k));
		}
		return d;
	}

	/** Deterministic odd write sizes in [1, max]. */
	static int[] oddSizes(long seed, int count, int max) {
		int[] r = new int[count];
		for (int i = 0; i < count; i++) {
			long v = mix(seed * 1000003 + i);
			int kind = (int) Long.remainderUnsigned(v, 4);
			long w = v >>> 8;
			if (kind == 0)
				r[i] = 1 + (int) Long.remainderUnsigned(w, 127); // tiny: record headers
			else if (kind == 1)
				r[i] = 60000 + (int) Long.remainderUnsigned(w, 11000); // around a 64 KiB block
			else
				r[i] = 1 + (int) Long.remainderUnsigned(w, max);
			r[i] |= 1; // odd
		}
		return r;
	}

	static String segName(long base) {
		return String.format("%020d", base);
	}

	// ------------------------------------------------------------------------------------------------
	// the expected content of a file

	static final class Model {
		byte[] b = new byte[1 << 16];
		int len;

		void ensure(long n) {
			check(n < Integer.MAX_VALUE - 16, "model too large");
			if (n > b.length)
				b = Arrays.copyOf(b, (int) Math.max(n, Math.min(Integer.MAX_VALUE - 16, 2L * b.length)));
		}

		void put(long off, byte[] src, int n) {
			ensure(off + n);
			if (off > len)
				Arrays.fill(b, len, (int) off, (byte) 0);
			System.arraycopy(src, 0, b, (int) off, n);
			if (off + n > len)
				len = (int) (off + n);
		}

		void setLen(long n) {
			ensure(n);
			if (n > len)
				Arrays.fill(b, len, (int) n, (byte) 0);
			len = (int) n;
		}
	}

	// ------------------------------------------------------------------------------------------------
	// a log segment (Kafka's FileRecords) with its model; dry = compute the model only (crash replay)

	static final class Seg {
		final long id;
		final boolean dry;
		Path path;
		FileChannel ch;
		final Model m = new Model();
		long wpos; // the kernel file offset as Kafka leaves it (appends go there)
		int nwrites;

		Seg(Path p, long id, boolean dry) {
			this.path = p;
			this.id = id;
			this.dry = dry;
		}

		String name() {
			return logs.relativize(path).toString();
		}

		/** FileRecords.open default path: FileChannel.open(CREATE, READ, WRITE), size() twice, position(limit). */
		static Seg open(Path p, long id, boolean dry) throws IOException {
			Seg s = new Seg(p, id, dry);
			s.kafkaOpen();
			return s;
		}

		void kafkaOpen() throws IOException {
			if (!dry) {
				ch = FileChannel.open(path, StandardOpenOption.CREATE, StandardOpenOption.READ,
						StandardOpenOption.WRITE);
				long s1 = ch.size();
				check(s1 <= Integer.MAX_VALUE, "%s: size %d > Integer.MAX_VALUE", name(), s1);
				long limit = Math.min(ch.size(), Integer.MAX_VALUE);
				eq(limit, m.len, "%s: size() after FileChannel.open(CREATE,READ,WRITE)", name());
				ch.position(limit);
				eq(ch.position(), limit, "%s: position() after position(limit)", name());
			}
			wpos = m.len;
		}

		/** log.preallocate: RandomAccessFile("rw").setLength(init) + getChannel(); FileRecords end=0. */
		static Seg openPrealloc(Path p, long id, long init, boolean dry) throws IOException {
			Seg s = new Seg(p, id, dry);
			s.m.setLen(init);
			s.wpos = 0;
			if (!dry) {
				@SuppressWarnings("resource")
				RandomAccessFile raf = new RandomAccessFile(p.toFile(), "rw");
				raf.setLength(init);
				s.ch = raf.getChannel();
				eq(s.ch.size(), init, "%s: size() after setLength(%d)", s.name(), init);
				long limit = Math.min((int) s.ch.size(), 0);
				s.ch.position(limit);
				eq(s.ch.position(), 0, "%s: channel position after preallocation", s.name());
				eq(raf.length(), init, "%s: RandomAccessFile.length() after setLength", s.name());
				eq(Files.size(p), init, "%s: Files.size after setLength", s.name());
				eq(p.toFile().length(), init, "%s: File.length after setLength", s.name());
			}
			return s;
		}

		/** MemoryRecords.writeFullyTo: while (written < size) written += channel.write(heapBuffer). */
		void append(int n) throws IOException {
			byte[] d = gen((id << 32) + nwrites++, n);
			long pos0 = wpos;
			if (!dry) {
				eq(ch.position(), pos0, "%s: position() before write #%d", name(), nwrites);
				ByteBuffer bb = ByteBuffer.wrap(d);
				long written = 0;
				int calls = 0;
				while (written < n) {
					int w = ch.write(bb);
					check(w >= 0 && ++calls < 1000000, "%s: write returned %d", name(), w);
					written += w;
				}
				eq(written, n, "%s: bytes written by write #%d", name(), nwrites);
			}
			m.put(pos0, d, n);
			wpos = pos0 + n;
			if (!dry) {
				eq(ch.position(), wpos, "%s: position() after write #%d of %d bytes at %d", name(), nwrites, n,
						pos0);
				eq(ch.size(), m.len, "%s: size() after write #%d of %d bytes at %d", name(), nwrites, n, pos0);
				eq(Files.size(path), m.len, "%s: Files.size after write #%d of %d bytes at %d", name(), nwrites, n,
						pos0);
			}
		}

		void appendAll(int[] sizes) throws IOException {
			for (int n : sizes)
				append(n);
		}

		/** FileRecords.truncateTo(target): if (target < (int) channel.size()) channel.truncate(target). */
		void truncateTo(long target) throws IOException {
			check(target <= wpos, "%s: truncateTo(%d) beyond logical size %d", name(), target, wpos);
			if (!dry) {
				long sz = ch.size();
				eq(sz, m.len, "%s: size() before truncateTo(%d)", name(), target);
				if (target < (int) sz)
					ch.truncate(target);
			}
			if (target < m.len)
				m.setLen(target);
			wpos = Math.min(wpos, target);
			if (!dry) {
				eq(ch.size(), m.len, "%s: size() after truncateTo(%d)", name(), target);
				eq(ch.position(), wpos, "%s: position() after truncateTo(%d)", name(), target);
				eq(Files.size(path), m.len, "%s: Files.size after truncateTo(%d)", name(), target);
			}
		}

		/** FileRecords.trim() on roll/close: truncateTo(sizeInBytes()). */
		void trim() throws IOException {
			truncateTo(wpos);
		}

		void force() throws IOException {
			if (!dry)
				ch.force(true);
		}

		/** FileRecords.close(): flush + trim + close. */
		void kafkaClose() throws IOException {
			force();
			trim();
			close();
		}

		void close() throws IOException {
			if (!dry && ch != null)
				ch.close();
			ch = null;
		}

		/** Utils.atomicMoveWithFallback(src, dst): Files.move(ATOMIC_MOVE); the channel stays open. */
		void renameTo(Path dst) throws IOException {
			Path src = path;
			if (!dry) {
				Files.move(src, dst, StandardCopyOption.ATOMIC_MOVE);
				check(!Files.exists(src), "%s: source still exists after Files.move to %s", src, dst);
				check(!src.toFile().exists(), "%s: File.exists() true after Files.move", src);
				check(Files.exists(dst), "%s: target missing after Files.move", dst);
			}
			path = dst;
			if (!dry)
				eq(Files.size(dst), m.len, "%s: Files.size after rename from %s", name(), src.getFileName());
		}

		/** FileRecords.deleteIfExists: close + Files.deleteIfExists. */
		void closeAndDelete() throws IOException {
			close();
			if (!dry) {
				check(Files.deleteIfExists(path), "%s: Files.deleteIfExists returned false", name());
				check(!path.toFile().exists(), "%s: File.exists() true after delete", name());
				check(!Files.exists(path), "%s: Files.exists true after delete", name());
			}
		}
	}

	// ------------------------------------------------------------------------------------------------
	// verification of a file against its model

	static void readFully(FileChannel c, ByteBuffer buf, long pos, String what) throws IOException {
		long p = pos;
		while (buf.hasRemaining()) {
			int n = c.read(buf, p);
			if (n < 0)
				throw new Fail(String.format("%s: read(buf, %d) hit EOF at %d with %d bytes still wanted", what,
						pos, p, buf.remaining()));
			p += n;
		}
	}

	/** Reads [0,len) of c with positional reads of the given chunk size and compares with m. */
	static void compareChannel(FileChannel c, Model m, int chunk, boolean direct, String what) throws IOException {
		ByteBuffer buf = direct ? ByteBuffer.allocateDirect(chunk) : ByteBuffer.allocate(chunk);
		byte[] tmp = new byte[chunk];
		for (long pos = 0; pos < m.len; pos += chunk) {
			int n = (int) Math.min(chunk, m.len - pos);
			buf.clear().limit(n);
			readFully(c, buf, pos, what);
			buf.flip();
			buf.get(tmp, 0, n);
			same(what + " (read(buf,pos) in chunks of " + chunk + ")", m.b, (int) pos, tmp, 0, n, pos);
		}
		ByteBuffer one = ByteBuffer.allocate(16);
		eq(c.read(one, m.len), -1, "%s: read(buf, size) must return -1 (EOF)", what);
		eq(c.read(one, m.len + 12345), -1, "%s: read(buf, size+12345) must return -1 (EOF)", what);
	}

	/** Every size view agrees, a read-only reopen sees the same bytes, the open channel too. */
	static void verify(Seg s, String when) throws IOException {
		String what = s.name() + " " + when;
		Path p = s.path;
		check(Files.exists(p), "%s: Files.exists false", what);
		check(p.toFile().exists(), "%s: File.exists false", what);
		check(p.toFile().isFile(), "%s: File.isFile false", what);
		eq(Files.size(p), s.m.len, "%s: Files.size", what);
		eq(p.toFile().length(), s.m.len, "%s: File.length", what);
		eq(Files.readAttributes(p, BasicFileAttributes.class).size(), s.m.len, "%s: readAttributes().size", what);
		eq((Long) Files.getAttribute(p, "unix:size"), s.m.len, "%s: unix:size", what);
		if (s.ch != null) {
			eq(s.ch.size(), s.m.len, "%s: size() of the open channel", what);
			eq(s.ch.position(), s.wpos, "%s: position() of the open channel", what);
			compareChannel(s.ch, s.m, 65536 + 13, false, what + " via open channel");
		}
		try (FileChannel ro = FileChannel.open(p)) {
			eq(ro.size(), s.m.len, "%s: size() of FileChannel.open(path) read-only", what);
			compareChannel(ro, s.m, 1 << 20, true, what + " via read-only reopen");
		}
		try (RandomAccessFile raf = new RandomAccessFile(p.toFile(), "r")) {
			eq(raf.length(), s.m.len, "%s: RandomAccessFile(\"r\").length()", what);
		}
	}

	// ------------------------------------------------------------------------------------------------
	// residency: st_blocks of the log-dir file and the pool's block table

	static long allocBytes(Path p) throws IOException, InterruptedException {
		ProcessBuilder pb = new ProcessBuilder("stat", "-c", "%b %B", p.toString());
		pb.environment().remove("LD_PRELOAD"); // stat itself must not load the shim
		pb.redirectErrorStream(true);
		Process pr = pb.start();
		String out = new String(pr.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
		check(pr.waitFor() == 0, "stat -c '%%b %%B' %s failed: %s", p, out);
		String[] f = out.split("\\s+");
		return Long.parseLong(f[0]) * Long.parseLong(f[1]);
	}

	/**
	 * The pool as tests/lib/pafkapool.py (the tests' one reader of the pool layout, which knows every format)
	 * summarises it: "pool BLOCK_SIZE NBLOCKS USED RESERVED UNOWNED", then "rec INDEX STATE INO BLOCKS PATH"
	 * per record in use.
	 */
	static final class Pool {
		long blockSize, nblocks, usedBlocks, reserved, unowned;
		final Map<Integer, long[]> recs = new TreeMap<>(); // index -> {state, ino, blocks}
		final Map<Integer, String> paths = new TreeMap<>();

		long used() {
			return usedBlocks;
		}

		long usedBy(int rec) {
			long[] r = recs.get(rec);
			return r == null ? 0 : r[2];
		}

		int liveRecordOf(long ino) {
			for (Map.Entry<Integer, long[]> e : recs.entrySet())
				if (e.getValue()[0] == 1 && e.getValue()[1] == ino)
					return e.getKey();
			return -1;
		}

		String usedSummary() {
			StringBuilder sb = new StringBuilder();
			for (Map.Entry<Integer, long[]> e : recs.entrySet())
				sb.append(String.format(" [rec %d state=%d ino=%d blocks=%d path=%s]", e.getKey(), e.getValue()[0],
						e.getValue()[1], e.getValue()[2], paths.get(e.getKey())));
			if (reserved != 0)
				sb.append(" [").append(reserved).append(" blocks RESERVED]");
			if (unowned != 0)
				sb.append(" [").append(unowned).append(" blocks owned by no record]");
			return sb.length() == 0 ? " (no records)" : sb.toString();
		}
	}

	static Pool readPool() throws Exception {
		check(Files.exists(poolFile), "pool file %s does not exist", poolFile);
		String top = System.getenv().getOrDefault("PAFKA_TOP_SRCDIR", ".");
		ProcessBuilder pb = new ProcessBuilder("python3", Paths.get(top, "tests", "lib", "pafkapool.py").toString(),
				"summary", poolFile.toString());
		pb.environment().remove("LD_PRELOAD"); // the reader must not attach to the pool itself
		pb.redirectErrorStream(true);
		Process pr = pb.start();
		String out = new String(pr.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
		check(pr.waitFor() == 0, "pafkapool.py summary %s failed: %s", poolFile, out.trim());
		Pool p = new Pool();
		for (String line : out.split("\n")) {
			String[] f = line.split(" ", 6);
			if (f[0].equals("pool") && f.length == 6) {
				p.blockSize = Long.parseLong(f[1]);
				p.nblocks = Long.parseLong(f[2]);
				p.usedBlocks = Long.parseLong(f[3]);
				p.reserved = Long.parseLong(f[4]);
				p.unowned = Long.parseLong(f[5]);
			} else if (f[0].equals("rec") && f.length >= 5) {
				int r = Integer.parseInt(f[1]);
				p.recs.put(r, new long[] { Long.parseLong(f[2]), Long.parseLong(f[3]), Long.parseLong(f[4]) });
				p.paths.put(r, f.length == 6 ? f[5] : "");
			}
		}
		check(p.nblocks > 0, "pafkapool.py summary %s: no pool line in: %s", poolFile, out.trim());
		return p;
	}

	/** Shim only: the managed file s (>= 4 MiB written) is pool-resident, its log-dir file sparse. */
	static void checkResident(Seg s) throws Exception {
		checkResident(s, 4 * MiB, "");
	}

	static void checkResident(Seg s, long minSize, String when) throws Exception {
		if (!shim) {
			info("residency of " + s.name() + ": not checked (plain kernel)");
			return;
		}
		long size = Files.size(s.path);
		long alloc = allocBytes(s.path);
		long ino = (Long) Files.getAttribute(s.path, "unix:ino");
		info(String.format("residency of %s%s: size=%d st_blocks*512=%d ino=%d", s.name(), when, size, alloc, ino));
		check(size >= minSize, "residency check needs >= %d bytes, %s has %d", minSize, s.name(), size);
		check(alloc <= size / 8, "%s%s: log-dir file is not sparse: st_blocks*512=%d for size %d (want <= size/8)",
				s.name(), when, alloc, size);
		Pool pl = readPool();
		int rec = pl.liveRecordOf(ino);
		long owned = rec < 0 ? 0 : pl.usedBy(rec);
		info(String.format("pool: block_size=%d used=%d/%d, LIVE record of ino %d: %d, owning %d blocks",
				pl.blockSize, pl.used(), pl.nblocks, ino, rec, owned));
		check(pl.used() > 0, "pool block table has no used entries after writing %d bytes to %s", size, s.name());
		check(rec >= 0, "pool has no LIVE record for %s%s (ino %d);%s", s.name(), when, ino, pl.usedSummary());
		// every pool-block-sized piece of the file holding data is in the pool or has >= 1 fs block allocated
		long dataBlocks = 0;
		for (long o = 0; o < s.m.len; o += pl.blockSize) {
			int e = (int) Math.min(s.m.len, o + pl.blockSize);
			for (int k = (int) o; k < e; k++)
				if (s.m.b[k] != 0) {
					dataBlocks++;
					break;
				}
		}
		check(owned + alloc / 4096 >= dataBlocks,
				"%s%s: bytes are neither in the pool nor in the file: %d blocks of %d B hold data, record %d owns %d, "
						+ "%d B allocated in the log-dir file",
				s.name(), when, dataBlocks, pl.blockSize, rec, owned, alloc);
	}

	/** Shim only: once every managed file is deleted and closed, no pool block is in use. */
	static void checkPoolEmpty(String when) throws Exception {
		if (!shim)
			return;
		long t0 = System.nanoTime();
		Pool pl = readPool();
		// the shim may free blocks from a background thread: give it up to 3 s (reported if needed)
		while (pl.used() != 0 && System.nanoTime() - t0 < 3_000_000_000L) {
			Thread.sleep(20);
			pl = readPool();
		}
		long ms = (System.nanoTime() - t0) / 1_000_000;
		check(pl.used() == 0, "%s: pool still has %d used blocks 3 s after every managed file was deleted;%s", when,
				pl.used(), pl.usedSummary());
		info("pool block table empty " + when + (ms > 50 ? " (after " + ms + " ms)" : ""));
	}

	static long poolUsed() throws Exception {
		return readPool().used();
	}

	// ------------------------------------------------------------------------------------------------
	// transferTo to a SocketChannel (PlaintextTransportLayer.transferFrom)

	/** Sends [pos, pos+count) of ch over a fresh 127.0.0.1 connection; returns what the peer received. */
	static byte[] transfer(FileChannel ch, long pos, long count, boolean nonBlocking, String what) throws Exception {
		try (ServerSocketChannel ss = ServerSocketChannel.open()) {
			ss.bind(new InetSocketAddress(InetAddress.getByName("127.0.0.1"), 0));
			SocketChannel c = SocketChannel.open(ss.getLocalAddress());
			SocketChannel srv = ss.accept();
			Future<byte[]> reader = exec.submit(() -> {
				ByteArrayOutputStream out = new ByteArrayOutputStream();
				ByteBuffer b = ByteBuffer.allocate(256 * 1024);
				try (SocketChannel s = srv) {
					while (s.read(b) >= 0) {
						out.write(b.array(), 0, b.position());
						b.clear();
					}
				}
				return out.toByteArray();
			});
			long before = ch.position();
			long sent = 0;
			long deadline = System.nanoTime() + 60_000_000_000L;
			try (Selector sel = Selector.open()) {
				if (nonBlocking) {
					c.configureBlocking(false);
					c.register(sel, SelectionKey.OP_WRITE);
				}
				while (sent < count) {
					check(System.nanoTime() < deadline, "%s: transferTo(%d,%d) stuck after %d bytes", what, pos, count,
							sent);
					long n = ch.transferTo(pos + sent, count - sent, c);
					check(n >= 0, "%s: transferTo returned %d", what, n);
					if (n == 0) {
						if (pos + sent >= ch.size())
							break; // EOF
						if (!nonBlocking)
							throw new Fail(String.format("%s: blocking transferTo(%d,%d) returned 0 before EOF "
									+ "(size %d)", what, pos + sent, count - sent, ch.size()));
						sel.select(1000); // socket buffer full (EAGAIN)
						sel.selectedKeys().clear();
						continue;
					}
					sent += n;
				}
			}
			c.close();
			byte[] got = join(reader);
			eq(got.length, sent, "%s: bytes received vs transferTo total", what);
			if (!what.startsWith("concurrent")) // another thread appends (moves the position) meanwhile
				eq(ch.position(), before, "%s: file position after transferTo(%d,%d)", what, pos, count);
			return got;
		}
	}

	static void checkTransfer(Seg s, long pos, long count, boolean nonBlocking) throws Exception {
		String what = String.format("%s transferTo(%d, %d, %s socket)", s.name(), pos, count,
				nonBlocking ? "non-blocking" : "blocking");
		byte[] got = transfer(s.ch, pos, count, nonBlocking, what);
		long expN = pos >= s.m.len ? 0 : Math.min(count, s.m.len - pos);
		eq(got.length, expN, "%s: bytes delivered", what);
		if (expN > 0)
			same(what, s.m.b, (int) pos, got, 0, (int) expN, pos);
	}

	// ------------------------------------------------------------------------------------------------
	// misc helpers

	/** Utils.flushDir: FileChannel.open(dir, READ) + force(true). */
	static void flushDir(Path dir) throws IOException {
		try (FileChannel c = FileChannel.open(dir, StandardOpenOption.READ)) {
			c.force(true);
		}
	}

	/** Utils.delete(dir): walk the tree, Files.delete every file, then the directory. */
	static void deleteTree(Path dir) throws IOException {
		Files.walkFileTree(dir, new SimpleFileVisitor<Path>() {
			@Override
			public FileVisitResult visitFile(Path f, BasicFileAttributes a) throws IOException {
				Files.delete(f);
				return FileVisitResult.CONTINUE;
			}

			@Override
			public FileVisitResult postVisitDirectory(Path d, IOException e) throws IOException {
				if (e != null)
					throw e;
				Files.delete(d);
				return FileVisitResult.CONTINUE;
			}
		});
		check(!Files.exists(dir), "%s still exists after deleting the tree", dir);
	}

	/** ByteBufferUnmapper.unmap: Unsafe.invokeCleaner (munmap now, not at GC time). */
	static void unmap(ByteBuffer b) throws Exception {
		Class<?> uc = Class.forName("sun.misc.Unsafe");
		Field f = uc.getDeclaredField("theUnsafe");
		f.setAccessible(true);
		Object u = f.get(null);
		Method m = uc.getMethod("invokeCleaner", ByteBuffer.class);
		m.invoke(u, b);
	}

	/** Future.get that rethrows a helper thread's assertion failure as such. */
	static <T> T join(Future<T> f) throws Exception {
		try {
			return f.get(60, TimeUnit.SECONDS);
		} catch (java.util.concurrent.ExecutionException ee) {
			Throwable c = ee.getCause();
			if (c instanceof Fail)
				throw (Fail) c;
			if (c instanceof Exception)
				throw (Exception) c;
			throw ee;
		}
	}

	/**
	 * For a reader thread racing a writer: the writer's committed length once it is above 0 (spinning until
	 * then), or -1 once done is set.
	 */
	static long awaitCommitted(AtomicBoolean done, AtomicLong committed) {
		while (!done.get()) {
			long lim = committed.get();
			if (lim > 0)
				return lim;
			Thread.onSpinWait();
		}
		return -1;
	}

	static byte[] bytesOf(ByteBuffer b) {
		byte[] r = new byte[b.remaining()];
		b.duplicate().get(r);
		return r;
	}

	// ------------------------------------------------------------------------------------------------
	// the suite

	static void suite() throws Exception {
		Path d0 = logs.resolve("kio-0");
		Path d1 = logs.resolve("kio-1");
		step("create partition dirs");
		Files.createDirectories(d0);
		Files.createDirectories(d1);

		// ---- 1. open + many odd appends incl. one 2 MiB single write: main segment of ~9.5 MiB
		step("open main segment with FileChannel.open(CREATE,READ,WRITE), size() x2, position(limit)");
		Seg main = Seg.open(d0.resolve(segName(0) + ".log"), 1, false);
		eq(main.ch.size(), 0, "new segment size");
		step("appends of odd sizes + one 2 MiB single write, size checked after each");
		main.appendAll(new int[] { 1, 17, 61, 4093, 4097, 65535, 65537, 3 });
		// a second fd on the same file, opened before the big write, sees it (size and bytes)
		FileChannel early = FileChannel.open(main.path);
		eq(early.size(), main.m.len, "size() of a read-only channel opened during appends");
		long bigAt = main.wpos;
		main.append(2 * (int) MiB); // one channel.write -> one write(2) of 2 MiB, at an odd offset
		eq(early.size(), main.m.len, "size() of the earlier read-only channel after the 2 MiB write");
		{
			ByteBuffer b = ByteBuffer.allocate((int) (main.m.len - bigAt));
			readFully(early, b, bigAt, "earlier read-only channel");
			same("2 MiB write read through an earlier read-only channel", main.m.b, (int) bigAt, b.array(), 0,
					b.capacity(), bigAt);
			early.close();
		}
		int[] sizes = oddSizes(11, 400, 150000);
		for (int i = 0; i < sizes.length && main.m.len < 9.5 * MiB; i++) {
			main.append(sizes[i]);
			if (i % 50 == 49)
				main.force(); // LogSegment.flush -> force(true)
		}
		info("main segment: " + main.nwrites + " writes, " + main.m.len + " bytes");
		verify(main, "after appends");

		// ---- 2. residency (shim only): >= 4 MiB written, file sparse, pool blocks used
		step("residency of the main segment");
		checkResident(main);

		// ---- 3. positional reads, as FileLogInputStream does (17-byte headers) and odd ranges
		step("positional reads: 17-byte headers, block-crossing ranges, past EOF");
		{
			ByteBuffer hdr = ByteBuffer.allocate(17);
			byte[] t = new byte[17];
			for (int i = 0; i < 2000; i++) {
				long pos = Long.remainderUnsigned(mix(i + 77), main.m.len - 17);
				hdr.clear();
				readFully(main.ch, hdr, pos, "17-byte header read");
				hdr.flip();
				hdr.get(t);
				same(main.name() + " 17-byte read", main.m.b, (int) pos, t, 0, 17, pos);
			}
			long[][] ranges = { { 65530, 20 }, { 65536, 65536 }, { 65535, 131074 }, { 2 * MiB - 1, 3 * MiB + 7 },
					{ 0, 1 }, { main.m.len - 1, 1 } };
			for (long[] r : ranges) {
				ByteBuffer b = ByteBuffer.allocate((int) r[1]);
				readFully(main.ch, b, r[0], "range read");
				same(main.name() + " range read [" + r[0] + "+" + r[1] + ")", main.m.b, (int) r[0], b.array(), 0,
						(int) r[1], r[0]);
			}
			ByteBuffer b = ByteBuffer.allocate(1000);
			int n = main.ch.read(b, main.m.len - 100);
			check(n > 0 && n <= 100, "read(1000 bytes, size-100) returned %d, want 1..100", n);
			same("read crossing EOF", main.m.b, main.m.len - 100, b.array(), 0, n, main.m.len - 100);
			eq(main.ch.position(), main.wpos, "position() after positional reads");
		}

		// ---- 4. force(true)
		step("force(true)");
		main.force();
		eq(main.ch.size(), main.m.len, "size() after force");

		// ---- 5. transferTo to a socket (PLAINTEXT fetch)
		step("transferTo to a 127.0.0.1 SocketChannel, several (pos,count) pairs");
		check(main.m.len > 8 * MiB, "main segment must exceed 8 MiB for the transferTo test (has %d)", main.m.len);
		long L = main.m.len;
		long[][] pairs = { { 0, L }, { 0, 64 * MiB }, { 1, 17 }, { 65535, 3 }, { 4093, 1000003 }, { L - 100, 1000 },
				{ L, 10 }, { L + 5, 10 }, { 7, Long.MAX_VALUE - 7 }, { 3 * MiB + 1, 5 * MiB + 77 } };
		for (long[] pc : pairs)
			checkTransfer(main, pc[0], pc[1], false);
		checkTransfer(main, 0, L, true); // Kafka's sockets are non-blocking
		checkTransfer(main, 12345, 9 * MiB, true);

		// ---- 6. FileChannel.map READ_ONLY of a .log (JDK 17's transferTo fallback does this)
		step("FileChannel.map(READ_ONLY) of the .log");
		{
			MappedByteBuffer mb = main.ch.map(FileChannel.MapMode.READ_ONLY, 0, main.m.len);
			same(main.name() + " whole READ_ONLY mapping", main.m.b, 0, bytesOf(mb), 0, main.m.len, 0);
			unmap(mb);
			MappedByteBuffer mb2 = main.ch.map(FileChannel.MapMode.READ_ONLY, 65537, 8 * MiB);
			same(main.name() + " READ_ONLY mapping at 65537", main.m.b, 65537, bytesOf(mb2), 0, (int) (8 * MiB),
					65537);
			unmap(mb2);
			eq(main.ch.size(), main.m.len, "size() after map/unmap");
		}

		// ---- 7. truncate (FileRecords.truncateTo) then appends
		step("truncateTo mid-block, no-op truncate, truncate to a block boundary, appends after each");
		{
			long t1 = main.m.len - 123457;
			main.truncateTo(t1);
			ByteBuffer b = ByteBuffer.allocate(10);
			eq(main.ch.read(b, t1), -1, "read at the new size after truncate must be EOF");
			main.truncateTo(main.m.len); // target == size: Kafka does not call truncate
			main.appendAll(new int[] { 77, 65537, 9 });
			verify(main, "after truncate mid-block + appends");
			long t2 = (main.m.len / 65536 - 3) * 65536;
			main.truncateTo(t2);
			main.appendAll(new int[] { 65536, 1, 100001 });
			verify(main, "after truncate to a block boundary + appends");
			main.truncateTo(main.m.len - 1);
			verify(main, "after truncate by one byte");
		}

		// ---- 8. shrink then extend with setLength: the extension reads zeros (no stale bytes)
		step("truncate a segment then extend it with RandomAccessFile.setLength: zeros, not old bytes");
		{
			Seg z = Seg.open(d0.resolve(segName(500) + ".log"), 8, false);
			z.appendAll(new int[] { 300001, 65536 * 3 + 5 });
			z.force();
			z.truncateTo(100003);
			z.truncateTo(70001);
			try (RandomAccessFile raf = new RandomAccessFile(z.path.toFile(), "rw")) {
				raf.setLength(400000);
				z.m.setLen(400000);
				eq(raf.length(), 400000, "RandomAccessFile.length after re-extension");
			}
			eq(z.ch.size(), 400000, "size() after re-extension");
			z.wpos = z.ch.position();
			verify(z, "after shrink + sparse re-extension");
			z.closeAndDelete();
		}

		// ---- 9. concurrency: one appender, positional readers and transferTo on the committed prefix
		step("concurrent appends, positional reads and transferTo of the committed prefix");
		{
			Seg c = Seg.open(d0.resolve(segName(900) + ".log"), 9, false);
			int[] csz = oddSizes(99, 300, 40000);
			// the expected content up front, so readers never touch a model being written
			List<byte[]> chunks = new ArrayList<>();
			int total = 0;
			for (int n : csz) {
				chunks.add(gen((9L << 32) + 1000 + chunks.size(), n));
				total += n;
			}
			byte[] all = new byte[total];
			int o = 0;
			for (byte[] ch : chunks) {
				System.arraycopy(ch, 0, all, o, ch.length);
				o += ch.length;
			}
			AtomicLong committed = new AtomicLong();
			AtomicBoolean done = new AtomicBoolean();
			AtomicLong reads = new AtomicLong(), transfers = new AtomicLong();
			List<Future<?>> fs = new ArrayList<>();
			for (int r = 0; r < 2; r++) {
				final int rr = r;
				fs.add(exec.submit(() -> {
					long k = 0;
					for (long lim; (lim = awaitCommitted(done, committed)) > 0;) {
						long pos = Long.remainderUnsigned(mix(rr * 1000003 + k++), lim);
						int n = (int) Math.min(lim - pos, 1 + Long.remainderUnsigned(mix(k), 70000));
						ByteBuffer b = ByteBuffer.allocate(n);
						readFully(c.ch, b, pos, "concurrent reader");
						same("concurrent reader", all, (int) pos, b.array(), 0, n, pos);
						long sz = c.ch.size();
						check(sz >= lim, "concurrent reader: size() %d below committed %d", sz, lim);
						reads.incrementAndGet();
					}
					return null;
				}));
			}
			fs.add(exec.submit(() -> {
				long k = 0;
				for (long lim; (lim = awaitCommitted(done, committed)) > 0;) {
					long pos = Long.remainderUnsigned(mix(k++ + 555), lim);
					byte[] got = transfer(c.ch, pos, lim - pos, true, "concurrent transferTo");
					eq(got.length, lim - pos, "concurrent transferTo(%d,%d): bytes", pos, lim - pos);
					same("concurrent transferTo", all, (int) pos, got, 0, got.length, pos);
					transfers.incrementAndGet();
				}
				return null;
			}));
			try {
				long pos = 0;
				int k = 0;
				for (byte[] d : chunks) {
					ByteBuffer bb = ByteBuffer.wrap(d);
					while (bb.hasRemaining())
						c.ch.write(bb);
					pos += d.length;
					eq(c.ch.size(), pos, "size() after concurrent append");
					committed.set(pos);
					// interleave: every 10 appends, wait until the readers have done more work (a
					// progress condition, not a timed sleep); a reader failure ends the wait
					if (++k % 10 == 0) {
						long wantR = 2L * k / 10, wantT = k / 30;
						long deadline = System.nanoTime() + 30_000_000_000L;
						while (reads.get() < wantR || transfers.get() < wantT) {
							for (Future<?> f : fs)
								if (f.isDone())
									join(f); // throws the reader's failure
							check(System.nanoTime() < deadline, "concurrent readers made no progress (%d reads, "
									+ "%d transfers after %d appends)", reads.get(), transfers.get(), k);
							Thread.onSpinWait();
						}
					}
				}
			} finally {
				done.set(true);
			}
			for (Future<?> f : fs)
				join(f);
			c.m.put(0, all, total);
			c.wpos = total;
			c.nwrites = csz.length;
			info("concurrency: " + csz.length + " appends, " + reads.get() + " reads, " + transfers.get()
					+ " transfers");
			verify(c, "after concurrent appends");
			c.kafkaClose();
			verify(c, "after close");
			c.closeAndDelete();
		}

		// ---- 10. preallocation: setLength(init), position 0, appends, trim on roll
		step("log.preallocate: RandomAccessFile(rw).setLength(6 MiB) + getChannel(), appends, trim on roll");
		{
			Seg pa = Seg.openPrealloc(d0.resolve(segName(1000) + ".log"), 10, 6 * MiB, false);
			long pal = allocBytes(pa.path);
			check(pal <= 64 * 1024, "%s: preallocated file must be sparse: st_blocks*512 = %d", pa.name(), pal);
			verify(pa, "right after preallocation (all zeros)");
			pa.appendAll(new int[] { 1, 4097, (int) MiB, 65535, 17 });
			pa.appendAll(oddSizes(12, 20, 100000));
			eq(pa.ch.size(), 6 * MiB, "size() stays at the preallocated size while appending");
			verify(pa, "preallocated, after appends");
			pa.force();
			long written = pa.wpos;
			pa.trim(); // onBecomeInactiveSegment -> trim -> truncateTo(sizeInBytes)
			eq(pa.ch.size(), written, "size() after trim");
			eq(Files.size(pa.path), written, "Files.size after trim");
			verify(pa, "preallocated, after trim on roll");
			pa.close();
			pa.kafkaOpen(); // reload of an existing segment
			pa.append(333);
			verify(pa, "preallocated, reopened + append");
			pa.kafkaClose();
			verify(pa, "preallocated, closed");
		}

		// ---- 11. cleaner: .cleaned (appendFromFile), .cleaned -> .swap, old -> .deleted, .swap -> ""
		step("cleaner dance: .log.cleaned -> .log.swap, .log -> .log.deleted, .log.swap -> .log, channels open");
		Seg cleaned;
		Path mainOrig = main.path;
		{
			cleaned = Seg.open(d0.resolve(segName(0) + ".log.cleaned"), 11, false);
			// LogSegment.appendFromFile: pread from the source, write to the destination
			int[] csz = oddSizes(13, 1000, 400000);
			long src = 0;
			for (int i = 0; src < main.m.len && i < csz.length; i++) {
				int n = (int) Math.min(csz[i], main.m.len - src);
				if (i % 3 == 2) { // skip some batches as the cleaner does
					src += n;
					continue;
				}
				ByteBuffer b = ByteBuffer.allocate(n);
				readFully(main.ch, b, src, "appendFromFile source read");
				b.flip();
				long pos0 = cleaned.wpos;
				while (b.hasRemaining())
					cleaned.ch.write(b);
				cleaned.m.put(pos0, Arrays.copyOfRange(main.m.b, (int) src, (int) src + n), n);
				cleaned.wpos += n;
				cleaned.nwrites++;
				eq(cleaned.ch.size(), cleaned.m.len, "%s: size() after appendFromFile", cleaned.name());
				src += n;
			}
			verify(cleaned, "after appendFromFile");
			cleaned.force();
			cleaned.trim();
			// cleaned.setLastModified(): Files.setLastModifiedTime (open64 O_RDONLY + futimens + close)
			java.nio.file.attribute.FileTime ft = java.nio.file.attribute.FileTime.fromMillis(1_700_000_000_000L);
			Files.setLastModifiedTime(cleaned.path, ft);
			eq(Files.getLastModifiedTime(cleaned.path).toMillis(), ft.toMillis(), "getLastModifiedTime");
			eq(cleaned.path.toFile().lastModified(), ft.toMillis(), "File.lastModified");
			verify(cleaned, "after setLastModifiedTime");
			cleaned.renameTo(d0.resolve(segName(0) + ".log.swap"));
			verify(cleaned, "renamed .cleaned -> .swap");
			main.renameTo(d0.resolve(segName(0) + ".log.deleted"));
			verify(main, "renamed .log -> .log.deleted (channel still open)");
			cleaned.renameTo(mainOrig);
			flushDir(d0);
			verify(cleaned, "renamed .swap -> .log");
			checkResident(cleaned, 4 * MiB, " (after .cleaned -> .swap -> .log)");
			check(!Files.exists(d0.resolve(segName(0) + ".log.swap")), ".log.swap still exists");
			check(!Files.exists(d0.resolve(segName(0) + ".log.cleaned")), ".log.cleaned still exists");
			// the old channel (now .deleted) is readable and writable
			main.appendAll(new int[] { 4099, 1 });
			verify(main, ".log.deleted after appends through the channel opened as .log");
			eq(Files.size(main.path), main.m.len, "Files.size of .log.deleted after appends");
			cleaned.append(12345);
			verify(cleaned, "new .log after an append");
		}

		// ---- 12. an open channel on a deleted file still reads until closed
		step("Files.deleteIfExists on .log.deleted with the channel still open");
		{
			Path p = main.path;
			check(Files.deleteIfExists(p), "Files.deleteIfExists(%s) returned false", p);
			check(!p.toFile().exists(), "File.exists() true after delete");
			check(!Files.deleteIfExists(p), "second Files.deleteIfExists returned true");
			eq(main.ch.size(), main.m.len, "size() of the open channel on the deleted file");
			compareChannel(main.ch, main.m, 1 << 20, false, "open channel on the deleted file");
			checkTransfer(main, 1000, 3 * MiB, false);
			main.close();
		}

		// ---- 13. recovery: File.delete, File.renameTo (.swap -> ""), rename over an existing file
		step("startup recovery: File.delete of a covered segment, File.renameTo .swap -> .log");
		{
			Seg covered = Seg.open(d0.resolve(segName(2000) + ".log"), 13, false);
			covered.appendAll(new int[] { 200001, 5 });
			covered.kafkaClose();
			Seg swap = Seg.open(d0.resolve(segName(2000) + ".log.swap"), 14, false);
			swap.appendAll(new int[] { 150001, 77 });
			swap.kafkaClose();
			File cf = covered.path.toFile();
			check(cf.delete(), "File.delete(%s) returned false", cf);
			check(!cf.exists(), "File.exists() true after File.delete");
			check(!cf.delete(), "second File.delete returned true");
			File sf = swap.path.toFile();
			check(sf.renameTo(cf), "File.renameTo(%s -> %s) returned false", sf, cf);
			check(!sf.exists(), ".swap exists after File.renameTo");
			swap.path = cf.toPath();
			verify(swap, "after File.renameTo .swap -> .log");
			swap.kafkaOpen();
			swap.append(999);
			verify(swap, "reopened after recovery rename");

			step("rename over an existing segment: Files.move(ATOMIC_MOVE) and Files.move(REPLACE_EXISTING)");
			Seg victim = Seg.open(d0.resolve(segName(3000) + ".log"), 15, false);
			victim.appendAll(new int[] { 300007 });
			victim.kafkaClose();
			swap.renameTo(victim.path); // replaces the victim; swap's channel stays open
			verify(swap, "after ATOMIC_MOVE over an existing segment");
			Seg victim2 = Seg.open(d0.resolve(segName(4000) + ".log"), 16, false);
			victim2.appendAll(new int[] { 200003 });
			Seg mover = Seg.open(d0.resolve(segName(4000) + ".log.swap"), 17, false);
			mover.appendAll(new int[] { 100005 });
			victim2.close();
			Files.move(mover.path, victim2.path, StandardCopyOption.REPLACE_EXISTING);
			check(!Files.exists(mover.path), "source exists after Files.move(REPLACE_EXISTING)");
			mover.path = victim2.path;
			verify(mover, "after Files.move(REPLACE_EXISTING) over an existing segment");
			mover.closeAndDelete();
			swap.closeAndDelete();
		}

		// ---- 14. index files: mmap-based, unmanaged, must still work (also across a rename)
		step(".index: createNewFile, RandomAccessFile setLength(10 MiB), map(READ_WRITE), putLong, force, resize");
		{
			Path ip = d0.resolve(segName(0) + ".index");
			File f = ip.toFile();
			check(f.createNewFile(), "createNewFile(%s) returned false", f);
			check(!f.createNewFile(), "second createNewFile returned true (EEXIST lost)");
			MappedByteBuffer mm;
			try (RandomAccessFile raf = new RandomAccessFile(f, "rw")) {
				raf.setLength(10 * MiB);
				eq(raf.length(), 10 * MiB, ".index length after setLength");
				mm = raf.getChannel().map(FileChannel.MapMode.READ_WRITE, 0, raf.length());
			}
			int entries = 5001;
			for (int i = 0; i < entries; i++)
				mm.putLong(i * 8, mix(i + 4242));
			mm.force();
			// trimToValidSize -> resize: a new RAF + setLength + map; the old mapping is not unmapped
			MappedByteBuffer mm2;
			try (RandomAccessFile raf = new RandomAccessFile(f, "rw")) {
				raf.setLength(entries * 8L);
				mm2 = raf.getChannel().map(FileChannel.MapMode.READ_WRITE, 0, entries * 8L);
			}
			eq(Files.size(ip), entries * 8L, ".index size after resize");
			for (int i = 0; i < entries; i++)
				eq(mm2.getLong(i * 8), mix(i + 4242), ".index entry %d via the new mapping", i);
			for (int i = 0; i < entries; i++)
				eq(mm.getLong(i * 8), mix(i + 4242), ".index entry %d via the old mapping", i);
			try (FileChannel rc = FileChannel.open(ip)) {
				ByteBuffer b = ByteBuffer.allocate(entries * 8).order(ByteOrder.BIG_ENDIAN);
				readFully(rc, b, 0, ".index read");
				for (int i = 0; i < entries; i++)
					eq(b.getLong(i * 8), mix(i + 4242), ".index entry %d via FileChannel read", i);
			}
			Path ipd = d0.resolve(segName(0) + ".index.deleted");
			Files.move(ip, ipd, StandardCopyOption.ATOMIC_MOVE);
			mm2.putLong(0, 42);
			mm2.force();
			eq(mm2.getLong(0), 42, ".index mapping after rename");
			unmap(mm);
			unmap(mm2);
			check(Files.deleteIfExists(ipd), "deleteIfExists(.index.deleted) returned false");
		}

		// ---- 15. unmanaged files in a partition dir pass through untouched
		step("unmanaged files (.txnindex, partition.metadata) behave like plain files");
		{
			Seg tx = Seg.open(d0.resolve(segName(0) + ".txnindex"), 18, false);
			tx.appendAll(new int[] { 34 * 100, 262144 });
			tx.force();
			verify(tx, "unmanaged .txnindex");
			if (shim) {
				long a = allocBytes(tx.path);
				check(a >= tx.m.len / 2, "unmanaged .txnindex looks captured: st_blocks*512=%d for size %d", a,
						tx.m.len);
			}
			tx.closeAndDelete();
			Path pm = d0.resolve("partition.metadata");
			Files.write(pm, "version: 0\ntopic_id: abc\n".getBytes(StandardCharsets.UTF_8));
			eq(Files.readAllBytes(pm).length, 25, "partition.metadata length");
			Files.delete(pm);
		}

		// ---- 16. partition dir rename topic-0 -> topic-0.<32hex>-delete with channels open
		step("partition directory rename kio-1 -> kio-1.<32hex>-delete with open channels and an index mapping");
		{
			Seg p = Seg.open(d1.resolve(segName(0) + ".log"), 20, false);
			for (int n : oddSizes(20, 200, 150000))
				if (p.m.len < 4.2 * MiB)
					p.append(n);
			p.force();
			Seg q = Seg.open(d1.resolve(segName(5000) + ".log"), 21, false);
			q.appendAll(new int[] { 10001, 17 });
			Seg r = Seg.open(d1.resolve(segName(9000) + ".log"), 22, false);
			r.appendAll(new int[] { 300001 });
			r.kafkaClose();
			Path ip = d1.resolve(segName(0) + ".index");
			check(ip.toFile().createNewFile(), "createNewFile .index in kio-1");
			MappedByteBuffer mm;
			try (RandomAccessFile raf = new RandomAccessFile(ip.toFile(), "rw")) {
				raf.setLength(1 * MiB);
				mm = raf.getChannel().map(FileChannel.MapMode.READ_WRITE, 0, raf.length());
			}
			mm.putLong(8, 0x1122334455667788L);
			String hex = java.util.UUID.randomUUID().toString().replace("-", "");
			Path nd = logs.resolve("kio-1." + hex + "-delete");
			Files.move(d1, nd, StandardCopyOption.ATOMIC_MOVE);
			flushDir(logs);
			check(!Files.exists(d1), "old partition dir still exists");
			for (Seg s : new Seg[] { p, q, r }) {
				Path old = s.path;
				s.path = nd.resolve(old.getFileName());
				check(!Files.exists(old), "%s still exists after the dir rename", old);
			}
			verify(p, "after dir rename (open channel)");
			checkResident(p, 4 * MiB, " (after the dir rename)");
			verify(q, "after dir rename (open channel)");
			verify(r, "after dir rename (closed)");
			p.appendAll(new int[] { 65537, 3 });
			q.append(70001);
			verify(p, "after dir rename + appends");
			verify(q, "after dir rename + appends");
			r.kafkaOpen();
			r.append(4097);
			verify(r, "reopened under the new dir + append");
			eq(mm.getLong(8), 0x1122334455667788L, ".index mapping after dir rename");
			mm.force();
			// topic deletion: segment.deleteIfExists for each, then Utils.delete(dir)
			p.closeAndDelete();
			q.closeAndDelete();
			r.close();
			unmap(mm);
			deleteTree(nd); // deletes r's .log and the .index with walkFileTree
		}

		// ---- 17. teardown: delete everything, pool returns to empty
		step("delete all remaining segments, pool block table returns to empty");
		cleaned.kafkaClose();
		verify(cleaned, "before final delete");
		cleaned.closeAndDelete();
		Path paPath = d0.resolve(segName(1000) + ".log"); // the preallocated segment, closed
		check(Files.deleteIfExists(paPath), "deleteIfExists(%s) returned false", paPath);
		check(!paPath.toFile().exists(), "%s: File.exists() true after delete", paPath);
		for (long base : new long[] { 500, 900, 2000, 3000, 4000 })
			check(!Files.exists(d0.resolve(segName(base) + ".log")), "%s.log should be gone", segName(base));
		try (var st = Files.list(d0)) {
			List<Path> left = new ArrayList<>();
			st.forEach(left::add);
			check(left.isEmpty(), "partition dir not empty at the end: %s", left);
		}
		Files.delete(d0);
		checkPoolEmpty("at the end of the suite");
	}

	// ------------------------------------------------------------------------------------------------
	// crash test: the same plan runs for real (write) or dry (verify)

	static final String CRASH_HEX = "0123456789abcdef0123456789abcdef";

	static List<Seg> crashPlan(boolean dry) throws IOException {
		Path d0 = logs.resolve("crash-0");
		Path d1 = logs.resolve("crash-1");
		if (!dry) {
			Files.createDirectories(d0);
			Files.createDirectories(d1);
		}
		List<Seg> segs = new ArrayList<>();
		// A: big, one 2 MiB write, forced, trimmed, closed
		Seg a = Seg.open(d0.resolve(segName(0) + ".log"), 101, dry);
		a.appendAll(new int[] { 17, 4093 });
		a.append(2 * (int) MiB);
		a.appendAll(oddSizes(101, 12, 120000));
		a.kafkaClose();
		segs.add(a);
		// B: forced, then unforced appends; open at the kill
		Seg b = Seg.open(d0.resolve(segName(1000) + ".log"), 102, dry);
		b.appendAll(oddSizes(102, 25, 120000));
		b.force();
		b.appendAll(new int[] { 65537, 101, 33333 });
		segs.add(b);
		// C: preallocated 4 MiB, 700001+ bytes written, forced half-way; never trimmed (st_size stays 4 MiB)
		Seg c = Seg.openPrealloc(d0.resolve(segName(2000) + ".log"), 103, 4 * MiB, dry);
		c.appendAll(new int[] { 350001, 1 });
		c.force();
		c.appendAll(new int[] { 349999, 4097 });
		segs.add(c);
		// D: truncated, then appended, unforced
		Seg d = Seg.open(d0.resolve(segName(3000) + ".log"), 104, dry);
		d.appendAll(new int[] { (int) MiB, 3 });
		d.truncateTo(300007);
		d.append(5003);
		segs.add(d);
		// E: renamed to .log.deleted while open, then appended
		Seg e = Seg.open(d0.resolve(segName(4000) + ".log"), 105, dry);
		e.appendAll(new int[] { 600001 });
		e.force();
		e.renameTo(d0.resolve(segName(4000) + ".log.deleted"));
		e.append(3001);
		segs.add(e);
		// G: cleaner output .cleaned -> .swap, closed
		Seg g = Seg.open(d0.resolve(segName(5000) + ".log.cleaned"), 107, dry);
		g.appendAll(new int[] { 200001, 65536 });
		g.kafkaClose();
		g.renameTo(d0.resolve(segName(5000) + ".log.swap"));
		segs.add(g);
		// F: in crash-1, forced, the dir renamed to -delete, appended after the rename; open
		Seg f = Seg.open(d1.resolve(segName(0) + ".log"), 106, dry);
		f.appendAll(new int[] { 800001 });
		f.force();
		Seg f2 = Seg.open(d1.resolve(segName(7000) + ".log"), 108, dry);
		f2.appendAll(new int[] { 123457 });
		f2.kafkaClose();
		Path nd = logs.resolve("crash-1." + CRASH_HEX + "-delete");
		if (!dry) {
			Files.move(d1, nd, StandardCopyOption.ATOMIC_MOVE);
			flushDir(logs);
		}
		f.path = nd.resolve(f.path.getFileName());
		f2.path = nd.resolve(f2.path.getFileName());
		f.append(70001);
		segs.add(f);
		segs.add(f2);
		return segs;
	}

	static void crashWrite() throws Exception {
		step("write the crash plan (some segments forced, some not)");
		List<Seg> segs = crashPlan(false);
		for (Seg s : segs)
			verify(s, "before the kill");
		if (shim)
			info("pool used blocks before the kill: " + poolUsed());
		step("wait for SIGKILL");
		System.out.println("READY " + ProcessHandle.current().pid());
		System.out.flush();
		System.in.read(); // the driver kills us here
		throw new Fail("stdin returned: the driver was supposed to SIGKILL this JVM");
	}

	static void crashVerify() throws Exception {
		step("replay the crash plan without I/O");
		List<Seg> segs = crashPlan(true);
		step("old names are gone after the kill");
		check(!Files.exists(logs.resolve("crash-1")), "crash-1 exists (the dir rename was lost)");
		check(!Files.exists(logs.resolve("crash-0").resolve(segName(4000) + ".log")), "4000.log exists");
		check(!Files.exists(logs.resolve("crash-0").resolve(segName(5000) + ".log.cleaned")), "5000.log.cleaned");
		step("every byte and size after the kill");
		for (int i = 0; i < segs.size(); i++) {
			Seg s = segs.get(i);
			Seg r = new Seg(s.path, s.id, false); // the same expected content, now doing real I/O
			r.m.b = s.m.b;
			r.m.len = s.m.len;
			r.nwrites = s.nwrites;
			verify(r, "after SIGKILL (fresh JVM, before reopen)");
			r.kafkaOpen(); // the broker's reload: FileChannel.open(CREATE,READ,WRITE) + size x2 + position
			verify(r, "after SIGKILL, reopened by the broker");
			segs.set(i, r);
		}
		if (shim) {
			long u = poolUsed();
			info("pool used blocks after restart: " + u);
			check(u > 0, "pool block table is empty after the restart although unforced pool data existed");
			// the big segments' bytes came back from the pool, not from a copy in the log-dir file
			for (Seg s : segs)
				if (s.m.len >= MiB)
					checkResident(s, MiB, " (after SIGKILL + restart)");
		}
		step("recovery: truncate the preallocated segment to its valid bytes, append, verify");
		Seg c = segs.get(2);
		c.truncateTo(700001 + 4097);
		c.append(1001);
		verify(c, "after recovery truncate + append");
		Seg b = segs.get(1);
		b.append(77);
		verify(b, "after post-crash append");
		step("delete everything");
		for (Seg s : segs)
			s.closeAndDelete();
		Files.delete(logs.resolve("crash-0"));
		Files.delete(logs.resolve("crash-1." + CRASH_HEX + "-delete"));
		checkPoolEmpty("after deleting every crash-test segment");
	}

	// ------------------------------------------------------------------------------------------------
	// live crash test: two partitions are being appended to (and rolled, and old segments deleted) when
	// the SIGKILL lands. Every segment is a slice of a per-partition byte stream (a pattern per stream
	// offset), so any file can be checked without knowing where the kill hit: sealed segments exactly,
	// the active one as "stream prefix, then at most zeros" (a torn in-flight write).

	static final long LIVE_CAP = 4 * MiB; // roll when a segment reaches this (so sealed sizes are fixed)
	static final long LIVE_PREALLOC = 6 * MiB; // partition live-1 uses log.preallocate
	static final int LIVE_MAXW = 300000;
	static final int LIVE_KEEP = 2; // sealed segments kept; older ones are renamed .deleted and deleted

	static void stream(long seed, long g, byte[] d, int n) {
		long s = mix(seed * 0x9E3779B97F4A7C15L);
		int i = 0;
		while (i < n) {
			long gi = g + i;
			long v = mix(s ^ (gi >>> 3));
			for (int k = (int) (gi & 7); k < 8 && i < n; k++, i++)
				d[i] = (byte) (v >>> (8 * k));
		}
	}

	static int liveWriteSize(long base, int i) {
		return (1 + (int) Long.remainderUnsigned(mix(base * 31 + i + 17), LIVE_MAXW)) | 1;
	}

	static long liveSealedSize(long base) {
		long len = 0;
		for (int i = 0; len < LIVE_CAP; i++)
			len += liveWriteSize(base, i);
		return len;
	}

	static final class LiveState {
		final long base, committed;

		LiveState(long b, long c) {
			base = b;
			committed = c;
		}
	}

	static void liveWriter(int part, java.util.concurrent.atomic.AtomicReference<LiveState> state,
			java.util.concurrent.CountDownLatch rolled) throws Exception {
		boolean pre = part == 1;
		long seed = 7000 + part;
		Path dir = logs.resolve("live-" + part);
		java.util.ArrayDeque<Object[]> sealed = new java.util.ArrayDeque<>();
		long base = 0;
		byte[] d = new byte[LIVE_MAXW + 1];
		for (long nseg = 0; nseg < 100000; nseg++) {
			Path p = dir.resolve(segName(base) + ".log");
			FileChannel ch;
			if (pre) {
				@SuppressWarnings("resource")
				RandomAccessFile raf = new RandomAccessFile(p.toFile(), "rw");
				raf.setLength(LIVE_PREALLOC);
				ch = raf.getChannel();
				ch.size();
				ch.position(0);
			} else {
				ch = FileChannel.open(p, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE);
				ch.size();
				ch.position(ch.size());
			}
			long len = 0;
			for (int i = 0; len < LIVE_CAP; i++) {
				int n = liveWriteSize(base, i);
				stream(seed, base + len, d, n);
				ByteBuffer bb = ByteBuffer.wrap(d, 0, n);
				while (bb.hasRemaining())
					ch.write(bb);
				len += n;
				state.set(new LiveState(base, len));
				if (i % 7 == 6)
					ch.force(true);
			}
			// roll: trim, keep the sealed segment open, delete the oldest ones
			if (ch.size() > len)
				ch.truncate(len);
			sealed.addLast(new Object[] { p, ch });
			rolled.countDown();
			while (sealed.size() > LIVE_KEEP) {
				Object[] o = sealed.removeFirst();
				Path op = (Path) o[0], del = Paths.get(op + ".deleted");
				Files.move(op, del, StandardCopyOption.ATOMIC_MOVE);
				((FileChannel) o[1]).close();
				Files.deleteIfExists(del);
			}
			base += len;
		}
	}

	static void liveWrite() throws Exception {
		step("two partitions appending, rolling and deleting until the kill");
		Files.createDirectories(logs.resolve("live-0"));
		Files.createDirectories(logs.resolve("live-1"));
		List<java.util.concurrent.atomic.AtomicReference<LiveState>> st = new ArrayList<>();
		java.util.concurrent.CountDownLatch rolled = new java.util.concurrent.CountDownLatch(2 * (LIVE_KEEP + 2));
		List<Future<?>> fs = new ArrayList<>();
		for (int part = 0; part < 2; part++) {
			java.util.concurrent.atomic.AtomicReference<LiveState> r = new java.util.concurrent.atomic.AtomicReference<>(
					new LiveState(0, 0));
			st.add(r);
			final int pp = part;
			fs.add(exec.submit(() -> {
				liveWriter(pp, r, rolled);
				return null;
			}));
		}
		// both writers have rolled LIVE_KEEP + 2 times (so deletions happened), or one failed
		while (!rolled.await(100, TimeUnit.MILLISECONDS))
			for (Future<?> f : fs)
				if (f.isDone()) {
					join(f);
					throw new Fail("a live writer stopped early");
				}
		StringBuilder sb = new StringBuilder();
		for (int part = 0; part < 2; part++) {
			LiveState ls = st.get(part).get();
			sb.append(part).append(' ').append(ls.base).append(' ').append(ls.committed).append('\n');
		}
		Files.write(Paths.get(System.getenv("PAFKA_TEST_DIR"), "live.state"), sb.toString().getBytes());
		info("state at READY: " + sb.toString().replace('\n', ';'));
		System.out.println("READY " + ProcessHandle.current().pid());
		System.out.flush();
		System.in.read(); // writers keep appending until the SIGKILL
		throw new Fail("stdin returned: the driver was supposed to SIGKILL this JVM");
	}

	static void liveVerify() throws Exception {
		List<String> lines = Files.readAllLines(Paths.get(System.getenv("PAFKA_TEST_DIR"), "live.state"));
		eq(lines.size(), 2, "live.state lines");
		long totalFiles = 0;
		for (int part = 0; part < 2; part++) {
			String[] f = lines.get(part).trim().split(" ");
			long stBase = Long.parseLong(f[1]), stCommitted = Long.parseLong(f[2]);
			boolean pre = part == 1;
			long seed = 7000 + part;
			Path dir = logs.resolve("live-" + part);
			step("live-" + part + ": names form the segment chain");
			java.util.TreeMap<Long, Path> files = new java.util.TreeMap<>();
			try (var ls = Files.list(dir)) {
				for (Path p : (Iterable<Path>) ls::iterator) {
					String n = p.getFileName().toString();
					check(n.matches("[0-9]{20}\\.log(\\.deleted)?"), "live-%d: unexpected file %s", part, n);
					long b = Long.parseLong(n.substring(0, 20));
					check(files.put(b, p) == null, "live-%d: two files for base %d", part, b);
				}
			}
			check(!files.isEmpty(), "live-%d: no segment files after the kill", part);
			long maxBase = files.lastKey();
			java.util.HashSet<Long> chain = new java.util.HashSet<>();
			for (long b = 0; b <= maxBase; b += liveSealedSize(b))
				chain.add(b);
			for (long b : files.keySet())
				check(chain.contains(b), "live-%d: base %d is not in the segment chain", part, b);
			check(files.size() <= LIVE_KEEP + 3, "live-%d: %d segment files, want <= %d (old ones not deleted?)",
					part, files.size(), LIVE_KEEP + 3);
			check(files.get(maxBase).getFileName().toString().endsWith(".log"), "live-%d: active segment is %s",
					part, files.get(maxBase));
			check(maxBase >= stBase, "live-%d: newest segment base %d older than at READY (%d)", part, maxBase,
					stBase);
			for (Map.Entry<Long, Path> e : files.entrySet()) {
				long b = e.getKey();
				Path p = e.getValue();
				long size = Files.size(p);
				eq(p.toFile().length(), size, "live-%d %s: File.length vs Files.size", part, p.getFileName());
				byte[] got = new byte[(int) size];
				try (FileChannel ro = FileChannel.open(p)) {
					eq(ro.size(), size, "live-%d %s: size() vs Files.size", part, p.getFileName());
					if (size > 0)
						readFully(ro, ByteBuffer.wrap(got), 0, p.toString());
				}
				byte[] exp = new byte[(int) size];
				stream(seed, b, exp, (int) size);
				String what = "live-" + part + " " + p.getFileName() + " after SIGKILL";
				if (b != maxBase) {
					step("live-" + part + ": sealed segment " + p.getFileName());
					eq(size, liveSealedSize(b), "%s: size of a sealed segment", what);
					same(what, exp, 0, got, 0, (int) size, 0);
					continue;
				}
				step("live-" + part + ": active segment " + p.getFileName() + " (stream prefix, then zeros)");
				long sealedSz = liveSealedSize(b);
				check(size <= (pre ? Math.max(LIVE_PREALLOC, sealedSz) : sealedSz), "%s: size %d too large", what, size);
				int x = Arrays.mismatch(exp, got);
				if (x < 0)
					x = (int) size;
				for (int k = x; k < size; k++)
					if (got[k] != 0)
						same(what + " (torn tail must be zeros)", exp, 0, got, 0, (int) size, 0);
				if (b == stBase)
					check(x >= stCommitted, "%s: only %d valid bytes, but %d were written before READY", what, x,
							stCommitted);
				info(String.format("%s: size %d, %d valid bytes, %d zero tail", what, size, x, size - x));
				// the broker's recovery: reopen, truncate to the valid bytes, append
				Seg r = new Seg(p, 0, false);
				r.m.put(0, Arrays.copyOf(got, x), x);
				r.m.setLen(size);
				r.kafkaOpen();
				r.truncateTo(x);
				r.m.setLen(x);
				byte[] more = new byte[12345];
				stream(seed, b + x, more, more.length);
				ByteBuffer bb = ByteBuffer.wrap(more);
				while (bb.hasRemaining())
					r.ch.write(bb);
				r.m.put(x, more, more.length);
				r.wpos = r.m.len;
				verify(r, "after recovery truncate + append");
				r.close();
			}
			totalFiles += files.size();
		}
		if (shim) {
			long u = poolUsed();
			info("pool used blocks after restart: " + u);
			check(u > 0, "pool block table is empty after the restart");
		}
		step("delete every live segment (" + totalFiles + " files)");
		for (int part = 0; part < 2; part++)
			deleteTree(logs.resolve("live-" + part));
		checkPoolEmpty("after deleting every live-test segment");
	}

	// ------------------------------------------------------------------------------------------------

	static void setup(String mode) throws IOException {
		String pre = System.getenv().getOrDefault("LD_PRELOAD", "");
		boolean inMaps = Files.readString(Paths.get("/proc/self/maps")).contains("libpafka");
		if (mode.equals("shim")) {
			shim = true;
			check(pre.contains("libpafka"), "mode shim but LD_PRELOAD=%s", pre);
			check(inMaps, "mode shim but libpafka is not mapped into this JVM (LD_PRELOAD=%s)", pre);
		} else if (mode.equals("plain")) {
			check(!pre.contains("libpafka") && !inMaps, "mode plain but libpafka is preloaded (LD_PRELOAD=%s)", pre);
		} else {
			throw new Fail("MODE must be shim or plain, not " + mode);
		}
		Map<String, String> env = System.getenv();
		String dir = env.get("PAFKA_TEST_DIR");
		check(dir != null, "PAFKA_TEST_DIR is not set (use tests/lib.sh pf_test_env)");
		logs = Paths.get(dir, "logs").toAbsolutePath();
		check(Files.isDirectory(logs), "log dir %s does not exist", logs);
		String pd = env.get("PAFKA_TEST_POOLDIR");
		check(!shim || pd != null, "PAFKA_TEST_POOLDIR is not set");
		poolFile = pd == null ? null : Paths.get(pd, "pafka.pool");
	}

	public static void main(String[] args) {
		if (args.length != 2) {
			System.err.println("usage: java KafkaIoSequences suite|crash-write|crash-verify|live-write|live-verify shim|plain");
			System.exit(2);
		}
		long t0 = System.nanoTime();
		try {
			setup(args[1]);
			System.out.println("KafkaIoSequences " + args[0] + " " + args[1] + " on Java "
					+ System.getProperty("java.runtime.version") + " (" + System.getProperty("java.vm.vendor")
					+ "), log dir " + logs);
			switch (args[0]) {
			case "suite":
				suite();
				break;
			case "crash-write":
				crashWrite();
				break;
			case "crash-verify":
				crashVerify();
				break;
			case "live-write":
				liveWrite();
				break;
			case "live-verify":
				liveVerify();
				break;
			default:
				throw new Fail("unknown phase " + args[0]);
			}
			System.out.printf("OK %s %s (%d ms)%n", args[0], args[1], (System.nanoTime() - t0) / 1_000_000);
			System.out.flush();
			System.exit(0);
		} catch (Throwable e) {
			System.out.flush();
			if (e instanceof Fail) {
				System.out.println("FAIL [" + step + "]: " + e.getMessage());
			} else {
				System.out.println("FAIL [" + step + "]: unexpected " + e);
				e.printStackTrace(System.out);
			}
			System.out.flush();
			System.exit(1);
		}
	}
}
