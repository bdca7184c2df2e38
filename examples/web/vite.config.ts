import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

export default defineConfig({
  plugins: [react()],
  // @dfbridge/client is linked from ../../clients/js, which has its own
  // copies of these for its build: the page must use one of each (one
  // React, one Descope context).
  resolve: { dedupe: ["react", "react-dom", "@descope/react-sdk"] },
  server: { host: "127.0.0.1", port: 5173, strictPort: true },
  preview: { host: "127.0.0.1", port: 5173, strictPort: true },
});
