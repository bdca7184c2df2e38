// Firebase's JS SDK in React Native: Auth persisted in AsyncStorage, so the
// Firebase session survives app restarts as the Descope tokens do (those
// live in expo-secure-store).
import AsyncStorage from "@react-native-async-storage/async-storage";
import { initializeApp } from "firebase/app";
import { connectAuthEmulator, getReactNativePersistence, initializeAuth } from "firebase/auth";
import { AUTH_EMULATOR_URL, FIREBASE_CONFIG } from "./config";

export const app = initializeApp(FIREBASE_CONFIG);
export const auth = initializeAuth(app, { persistence: getReactNativePersistence(AsyncStorage) });
// Only when configured: a development build pointed at a real Firebase
// project must not silently talk to an emulator.
if (AUTH_EMULATOR_URL) connectAuthEmulator(auth, AUTH_EMULATOR_URL, { disableWarnings: true });
