// The shell's entry: styles, the built-in apps, the root component, the service worker.
import { mount } from 'svelte';
import './app.css';
import App from './App.svelte';
import { registerBuiltinApps } from './apps/builtins.js';

registerBuiltinApps();
const target = document.getElementById('app');
if (target) mount(App, { target });

if ('serviceWorker' in navigator && import.meta.env.PROD) {
  // The service worker caches only the shell's static files (PWA install, offline start).
  navigator.serviceWorker.register('/sw.js', { scope: '/' }).catch(() => {});
}
