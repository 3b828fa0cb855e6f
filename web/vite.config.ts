import { defineConfig } from "vite";
import solid from "vite-plugin-solid";

// The demo page, served by matrix-sync at /demo/ in demo mode.
export default defineConfig({
  root: "demo",
  base: "/demo/",
  plugins: [solid()],
  // The Matrix SDK is most of the bundle (about 900 KB, 260 KB gzipped) plus
  // its crypto as WASM (7.8 MB, 2.1 MB gzipped).
  build: { outDir: "../dist", emptyOutDir: true, target: "es2022", chunkSizeWarningLimit: 2000 },
});
