// Package javaconfig owns reading the Java side of a Kafka configuration:
// .properties files as java.util.Properties reads (and stores) them,
// ${provider:[path:]key} config-provider references, and JKS, PKCS#12 and
// PEM key and trust stores, checked before a library allocates what a
// corrupt file claims. Which setting names a store, which providers a
// worker declares and where files are written belong to the packages that
// use it (bootstrap, kafka).
package javaconfig
