/*
 * config_properties.h - the Java .properties format, as java.util.Properties.load reads it: the parser of
 * Kafka's server.properties and the PAFKA_CONFIG file.
 *
 * Owns: nothing (pure text work). May call: libc string and memory functions only.
 */
#ifndef PAFKA_CONFIG_PROPERTIES_H
#define PAFKA_CONFIG_PROPERTIES_H

#include <stddef.h>

/* Parse a Java .properties text (key=value, key:value, key value; # and ! comments; backslash line
 * continuation and \t \n \uXXXX escapes) calling cb for each pair. Never reads past len. Returns 0. */
int pf_properties_parse(const char *text, size_t len,
			void (*cb)(void *arg, const char *key, const char *value), void *arg);

#endif
