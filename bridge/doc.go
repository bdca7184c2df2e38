// Package bridge is the exchange itself: it takes a verified Descope session,
// maps it to a Firebase UID and custom claims, and asks a Minter for a Firebase
// custom token. It owns the domain types, the error codes every adapter and
// handler speaks, and the small interfaces it needs from the outside world.
// It imports no vendor SDK: Descope and Firebase live behind Verifier and
// Minter, implemented in the descope and firebase packages.
package bridge
