// Package firebase is the last step of an exchange: it signs Firebase custom
// tokens with the customer's own service account through the Firebase Admin
// SDK (a key file, keyless IAM signBlob, or the Auth emulator), and manages
// Firebase users for migration look-ups and lifecycle sync.
package firebase
