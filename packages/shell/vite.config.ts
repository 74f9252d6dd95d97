// Vite build of the App Shell. Two entries: the page (index.html) and the service worker, which
// must keep a fixed name at the root (`/sw.js`) so that its scope is the whole shell.
import { defineConfig } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';

export default defineConfig({
  plugins: [svelte()],
  build: {
    target: 'es2022',
    outDir: 'dist',
    emptyOutDir: true,
    // SECURITY: no source maps in the served bundle (they are not needed to run and widen what the
    // canary must cover).
    sourcemap: false,
    // SECURITY: no inline module-preload polyfill script: the CSP allows only 'self' scripts.
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    rollupOptions: {
      input: { main: 'index.html', sw: 'src/sw.ts' },
      output: {
        entryFileNames: (chunk) => (chunk.name === 'sw' ? 'sw.js' : 'assets/[name]-[hash].js'),
      },
    },
  },
});
