/** The doctor page: `banger doctor`'s checks (host, system install, daemon), pass/warn/fail with the fix. */
import { useEffect, useState } from 'preact/hooks';
import type { DoctorCheck } from '../../api/daemon.js';
import { csrf } from './api.js';

export function DoctorPage() {
  const [checks, setChecks] = useState<DoctorCheck[] | null>(null);
  const [err, setErr] = useState<string | null>(null);
  const load = () => {
    setChecks(null);
    setErr(null);
    fetch('/ui/doctor', { method: 'POST', headers: { 'x-banger-csrf': csrf() } })
      .then(async (r) => {
        const body = (await r.json()) as DoctorCheck[] | { message: string };
        if (!r.ok || !Array.isArray(body)) throw new Error('message' in body ? body.message : `HTTP ${r.status}`);
        setChecks(body);
      })
      .catch((e: Error) => setErr(e.message));
  };
  useEffect(load, []);
  return (
    <>
      <h1>
        Doctor <button onClick={load}>Run again</button>
      </h1>
      <p class="muted">The same checks as `banger doctor`: host tools and KVM, the system install, the daemon.</p>
      {err && <p class="error">{err}</p>}
      {!checks && !err && <p>Checking…</p>}
      {checks && (
        <ul class="doctor">
          {checks.map((c, i) => (
            <li key={i} class={c.verdict}>
              <span class={`verdict ${c.verdict}`}>{c.verdict}</span> <strong>{c.name}</strong> {c.detail}
              {c.fix && <div class="fix">→ {c.fix}</div>}
            </li>
          ))}
        </ul>
      )}
    </>
  );
}
