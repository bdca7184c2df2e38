import { SafeAreaView, StyleSheet } from "react-native";
import { AuthProvider } from "@descope/react-native-sdk";
import { DESCOPE_PROJECT_ID } from "./src/config";
import { LoginScreen } from "./src/LoginScreen";

export default function App() {
  return (
    <AuthProvider projectId={DESCOPE_PROJECT_ID}>
      <SafeAreaView style={styles.fill}>
        <LoginScreen />
      </SafeAreaView>
    </AuthProvider>
  );
}

const styles = StyleSheet.create({ fill: { flex: 1 } });
