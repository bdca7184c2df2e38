// firebase/auth exports getReactNativePersistence in its React Native build
// (Metro picks @firebase/auth's "react-native" entry), but the package's
// "types" condition comes first, so TypeScript only ever sees the web
// declarations, which lack it. This declares the one function, with the
// signature of @firebase/auth's own dist/rn/index.rn.d.ts.
import type { Persistence } from "firebase/auth";

declare module "firebase/auth" {
  export interface ReactNativeAsyncStorage {
    setItem(key: string, value: string): Promise<void>;
    getItem(key: string): Promise<string | null>;
    removeItem(key: string): Promise<void>;
  }
  export function getReactNativePersistence(storage: ReactNativeAsyncStorage): Persistence;
}
