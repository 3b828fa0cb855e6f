import { defineConfig } from "vite";

// Served by matrix-sync at /demo/ (the Rust test points MATRIX_SYNC_DEMO_DIR here).
export default defineConfig({
  base: "/demo/",
  // The crypto's WASM is loaded with `new URL(…, import.meta.url)`: keep it out of the dev
  // server's pre-bundling (the build needs nothing).
  optimizeDeps: { exclude: ["@matrix-org/matrix-sdk-crypto-wasm"] },
  build: { outDir: "dist", emptyOutDir: true, target: "es2022", chunkSizeWarningLimit: 2000 },
  // By hand against a running service (`make demo`), which serves only the demo page:
  //   MATRIX_SYNC_URL=http://127.0.0.1:<port> npx vite preview --port 4174
  // serves this build at /demo/ and passes /v1/ (the sign-in) on to the service, so the page
  // signs in from its own origin as it does when the service serves it (tests/dev-fixture.mjs).
  preview: {
    proxy: process.env["MATRIX_SYNC_URL"] ? { "/v1": { target: process.env["MATRIX_SYNC_URL"], changeOrigin: true } } : {},
  },
});
