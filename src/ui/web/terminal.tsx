/** The in-browser terminal: xterm.js joined to a WebSocket that the daemon connects to a PTY in the guest; resizes follow the element. */
import { FitAddon } from '@xterm/addon-fit';
import { Terminal as XTerm } from '@xterm/xterm';
import { useEffect, useRef, useState } from 'preact/hooks';
import type { UiTermControl } from '../../api/ui.js';

export function Terminal({ name }: { name: string }) {
  const host = useRef<HTMLDivElement>(null);
  const [status, setStatus] = useState('connecting…');
  useEffect(() => {
    const dark = matchMedia('(prefers-color-scheme: dark)').matches;
    const term = new XTerm({
      fontSize: 14,
      fontFamily: 'ui-monospace, SFMono-Regular, Menlo, Consolas, monospace',
      theme: dark ? { background: '#111418', foreground: '#e6e6e6' } : { background: '#ffffff', foreground: '#1b1f24', cursor: '#1b1f24', selectionBackground: '#b4d5fe' },
    });
    const fit = new FitAddon();
    term.loadAddon(fit);
    term.open(host.current!);
    fit.fit();
    const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ui/ws/term/${encodeURIComponent(name)}?rows=${term.rows}&cols=${term.cols}`);
    ws.binaryType = 'arraybuffer';
    const enc = new TextEncoder();
    ws.onopen = () => {
      setStatus('connected');
      term.focus();
    };
    ws.onmessage = (m) => {
      if (typeof m.data === 'string') {
        const c = JSON.parse(m.data) as { type: string; message?: string };
        if (c.type === 'error') setStatus(c.message ?? 'error');
        return;
      }
      term.write(new Uint8Array(m.data as ArrayBuffer));
    };
    ws.onclose = (e) => setStatus((s) => (s === 'connected' || s === 'connecting…' ? `closed${e.reason ? ` (${e.reason})` : ''}` : s));
    const input = term.onData((d) => ws.readyState === WebSocket.OPEN && ws.send(enc.encode(d)));
    const resized = term.onResize(({ rows, cols }) => {
      if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: 'resize', rows, cols } satisfies UiTermControl));
    });
    const ro = new ResizeObserver(() => fit.fit());
    ro.observe(host.current!);
    return () => {
      ro.disconnect();
      input.dispose();
      resized.dispose();
      ws.close();
      term.dispose();
    };
  }, [name]);
  return (
    <section class="terminal-wrap">
      <div class="muted small" role="status">
        Terminal: {status}
      </div>
      <div class="term-host" ref={host} />
    </section>
  );
}
