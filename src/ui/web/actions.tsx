/** Running an API call from a button: progress lines as they arrive, then the result or banger's own error message. */
import { useState } from 'preact/hooks';
import type { ProgressEvent } from '../../api/progress.js';
import { CallError } from './api.js';

export interface Task {
  id: number;
  title: string;
  lines: ProgressEvent[];
  state: 'running' | 'done' | 'failed';
  message?: string;
}

let nextId = 1;

export function useTasks() {
  const [tasks, setTasks] = useState<Task[]>([]);
  const update = (id: number, f: (t: Task) => Task) => setTasks((ts) => ts.map((t) => (t.id === id ? f(t) : t)));
  /** Runs `fn` as a task shown in the log; resolves to its result, or undefined when it failed (the error is shown). */
  async function run<T>(title: string, fn: (onProgress: (p: ProgressEvent) => void) => Promise<T>, done?: (r: T) => string): Promise<T | undefined> {
    const id = nextId++;
    setTasks((ts) => [{ id, title, lines: [], state: 'running' as const }, ...ts].slice(0, 8));
    try {
      const r = await fn((p) => update(id, (t) => ({ ...t, lines: [...t.lines, p] })));
      update(id, (t) => ({ ...t, state: 'done', message: done?.(r) }));
      return r;
    } catch (err) {
      const msg = err instanceof CallError ? err.message : (err as Error).message;
      update(id, (t) => ({ ...t, state: 'failed', message: msg }));
      return undefined;
    }
  }
  const dismiss = (id: number) => setTasks((ts) => ts.filter((t) => t.id !== id));
  return { tasks, run, dismiss };
}

export function TaskLog({ tasks, dismiss }: { tasks: Task[]; dismiss(id: number): void }) {
  if (tasks.length === 0) return null;
  return (
    <section class="tasks" aria-label="operations" aria-live="polite">
      {tasks.map((t) => (
        <div class={`task ${t.state}`} key={t.id} data-task={t.title}>
          <div class="task-head">
            <strong>{t.title}</strong>
            <span class="badge">{t.state === 'running' ? 'running…' : t.state}</span>
            {t.state !== 'running' && (
              <button class="link" onClick={() => dismiss(t.id)} aria-label={`dismiss ${t.title}`}>
                ×
              </button>
            )}
          </div>
          {t.lines.length > 0 && t.state === 'running' && (
            <div class="task-progress">
              {t.lines[t.lines.length - 1]!.stage}
              {t.lines[t.lines.length - 1]!.message ? `: ${t.lines[t.lines.length - 1]!.message}` : ''} ({(t.lines[t.lines.length - 1]!.elapsedMs / 1000).toFixed(1)}s)
            </div>
          )}
          {t.message && <div class={t.state === 'failed' ? 'error' : 'task-result'}>{t.message}</div>}
        </div>
      ))}
    </section>
  );
}
