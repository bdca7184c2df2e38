// Package webhook is where Descope itself calls the bridge, in two places of
// the flow. At the end of a Descope flow, Descope's Generic HTTP Token
// connector asks POST /webhook/external-token for the user's Firebase custom
// token and returns it to the app as externalToken (the hosted experience,
// with the service-account key kept in the customer's project). After the
// fact, Descope's audit webhook connector streams events to POST
// /webhook/audit, and deleted, disabled or changed users are brought into
// Firebase (lifecycle sync).
//
// The package authenticates Descope's calls (HMAC and/or bearer secrets,
// several at once for rotation, compared in constant time over the raw
// bytes), caps their size before reading them, remembers recent audit
// deliveries so a repeated one changes nothing, and turns what they say into
// bridge operations: bridge.Exchange for the connector, bridge.Lifecycle for
// audit events. It holds no Descope or Firebase SDK.
package webhook
