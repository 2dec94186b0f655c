# cg-self.awk - self cost (Ir) per function from one callgrind output file, for attribution of the
# per-call overhead: awk -f bench/cg-self.awk callgrind.out.N | sort -k1,1nr | head
# Handles callgrind's name compression ("fn=(12) name" then "fn=(12)").
function nm(s, tab,   id, rest) {
	if (match(s, /^\([0-9]+\)/)) {
		id = substr(s, 2, RLENGTH - 2); rest = substr(s, RLENGTH + 1); sub(/^ /, "", rest)
		if (rest != "") tab[id] = rest
		return tab[id]
	}
	return s
}
/^ob=/  { ob = nm(substr($0, 4), OBS); next }
/^fn=/  { fn = nm(substr($0, 4), FNS); next }
/^cob=/ { nm(substr($0, 5), OBS); next }
/^cfn=/ { nm(substr($0, 5), FNS); next }
/^calls=/ { skip = 1; next }
/^([0-9+*-])/ { if (skip) { skip = 0; next } self[ob " " fn] += $2; next }
END { for (k in self) if (self[k] > 0) printf "%d %s\n", self[k], k }
