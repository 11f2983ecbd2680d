/** The doctor page: the daemon's checks (`daemon.doctor`, what `banger doctor` asks the daemon), pass/warn/fail with the fix. */
import { useEffect, useState } from 'preact/hooks';
import type { DoctorCheck } from '../../api/daemon.js';
import { call } from './api.js';

export function DoctorPage() {
  const [checks, setChecks] = useState<DoctorCheck[] | null>(null);
  const [err, setErr] = useState<string | null>(null);
  const load = () => {
    setChecks(null);
    call('daemon.doctor', {}).then(setChecks, (e: Error) => setErr(e.message));
  };
  useEffect(load, []);
  return (
    <>
      <h1>
        Doctor <button onClick={load}>Run again</button>
      </h1>
      <p class="muted">The daemon's checks of this host (artifacts, network, DNS). `banger doctor` adds the CLI-side host and system-install checks.</p>
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
