// Bundles the CLI into dist/bin/effect-daytona.js (plus lazily loaded chunks). Loading one file instead of
// the ~700 ES modules of effect and @effect/cli cuts the CLI's start-up by about two thirds (BENCHMARKS.md).
// The Daytona SDK and ssh2 stay external: they are loaded from node_modules, and only by the commands that need them.
import { build } from "esbuild"

await build({
  entryPoints: { "effect-daytona": "src/cli/bin.ts" },
  outdir: "dist/bin",
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20",
  // ssh2 (the emulator's SSH endpoint) may load an optional native binding: it stays in node_modules too.
  external: ["@daytonaio/sdk", "ssh2"],
  chunkNames: "chunks/[name]-[hash]",
  // Some bundled dependencies are CommonJS and call require(): give the ES module bundle one.
  banner: {
    js: 'import { createRequire as __createRequire } from "node:module"; const require = __createRequire(import.meta.url);'
  },
  logLevel: "warning"
})
