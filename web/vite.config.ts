import { readFileSync } from "node:fs";
import { defineConfig } from "vite";
import solid from "vite-plugin-solid";

// The library (`npm run build` → lib/): ES modules for bundlers, one entry per
// export of package.json. matrix-js-sdk and solid-js are peer dependencies:
// never bundled, so the host's bundler resolves one copy of each (and emits
// the crypto's WASM itself; see README.md).
export default defineConfig({
  plugins: [
    solid(),
    {
      // The stylesheet mountChat injects, also as a file for hosts that ship their own CSS.
      name: "matrix-sync-chat-css",
      generateBundle() {
        this.emitFile({ type: "asset", fileName: "style.css", source: readFileSync("src/chat.css", "utf8") });
      },
    },
  ],
  build: {
    outDir: "lib",
    emptyOutDir: true,
    target: "es2022",
    // Readable output: the host's bundler minifies; a stack trace points at real names.
    minify: false,
    sourcemap: true,
    lib: {
      entry: { index: "src/index.ts", solid: "src/solid.ts" },
      formats: ["es"],
      fileName: (_format, name) => `${name}.js`,
    },
    rolldownOptions: {
      external: [/^matrix-js-sdk(\/|$)/, /^solid-js(\/|$)/],
    },
  },
});
