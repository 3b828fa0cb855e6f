import { defineConfig } from "vite";
import solid from "vite-plugin-solid";

// The demo page, served by matrix-sync at /demo/ in demo mode, built from the
// installed @matrix-sync/chat tarball (not from ../src) into ../dist.
export default defineConfig({
  base: "/demo/",
  plugins: [solid()],
  // matrix-js-sdk's crypto loads its WASM with `new URL("…_bg.wasm", import.meta.url)`. The
  // build emits that file next to the JS; the dev server's dependency pre-bundling would move
  // the JS away from it (a 404 for the WASM), so that package is left out of it.
  optimizeDeps: { exclude: ["@matrix-org/matrix-sdk-crypto-wasm"] },
  build: {
    outDir: "../dist",
    emptyOutDir: true,
    target: "es2022",
    // The Matrix SDK is most of the JavaScript; its crypto is a separate WASM file.
    chunkSizeWarningLimit: 2000,
  },
});
