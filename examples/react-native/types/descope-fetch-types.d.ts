// Gap: @descope/core-js-sdk's declarations name the DOM's HeadersInit and
// RequestCredentials, which React Native's globals call HeadersInit_ and
// RequestCredentials_ (react-native/src/types/globals.d.ts). Alias them so
// the SDK's own types check instead of turning these options into errors.
type HeadersInit = HeadersInit_;
type RequestCredentials = RequestCredentials_;
