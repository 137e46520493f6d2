import { defineConfig } from 'vite';

// base './' makes every asset URL relative, so the same build loads from
// http://127.0.0.1:4020/ and from the desktop window's asset server. File
// names carry content hashes, so a build changes only when its sources do
// and a browser never runs a stale script after an upgrade.
export default defineConfig({
  base: './',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    assetsInlineLimit: 0,
  },
});
