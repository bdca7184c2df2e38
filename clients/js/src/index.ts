// Package @dfbridge/client is the client's side of dfbridge: it exchanges a
// Descope session for a Firebase custom token, and keeps a Firebase sign-in
// in step with the Descope session (bindFirebaseSession). It has no runtime
// dependencies: the app passes in Firebase's functions (and, for the hooks
// in "@dfbridge/client/react" and "@dfbridge/client/react-native", uses its
// own React and Descope SDK).
export * from "./exchange.js";
export * from "./session.js";
export * from "./oidc.js";
