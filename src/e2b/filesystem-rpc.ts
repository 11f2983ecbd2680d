/**
 * envd's `filesystem.Filesystem` Connect service on guest/files.ts and guest/watch.ts: Stat,
 * MakeDir, Move, ListDir (depth), Remove, WatchDir (a stream) and the polled watcher calls
 * (CreateWatcher / GetWatcherEvents / RemoveWatcher). Paths resolve against the request's user.
 */
import { randomBytes } from 'node:crypto';
import type { ConnectRouter, HandlerContext } from '@connectrpc/connect';
import { BangerError } from '../api/errors.js';
import * as files from '../guest/files.js';
import { watchDir, type DirWatch, type WatchEvent } from '../guest/watch.js';
import { toEntryInfo } from './entry.js';
import { toConnectError, withConnectErrors as wrap } from './errors.js';
import { EventType, Filesystem } from './gen/filesystem_pb.js';
import type { EnvdContext } from './process-rpc.js';
import { EventQueue } from './queue.js';
import { resolveGuestPath, userFromAuthorization } from './user.js';

const EVENT_TYPES: Record<WatchEvent['type'], EventType> = { create: EventType.CREATE, write: EventType.WRITE, remove: EventType.REMOVE };
/** Events a polled watcher keeps between GetWatcherEvents calls; older ones are dropped. */
const WATCHER_MAX_EVENTS = 10_000;

interface Watcher {
  sandbox: string;
  watch: DirWatch;
  events: WatchEvent[];
}

export function registerFilesystemService(router: ConnectRouter, env: EnvdContext): { dropSandbox(id: string): void } {
  const watchers = new Map<string, Watcher>();
  const open = async (ctx: HandlerContext, path: string) => {
    const user = userFromAuthorization(ctx.requestHeader.get('authorization'));
    const sandbox = env.sandboxOf(ctx);
    return { sandbox, user, path: resolveGuestPath(path, user), session: await env.session(sandbox, ctx.signal) };
  };
  const startWatch = async (ctx: HandlerContext, path: string, recursive: boolean, onEvents: (e: WatchEvent[]) => void) => {
    const o = await open(ctx, path);
    const st = await files.stat(o.session, o.path);
    if (st.type !== 'dir') throw new BangerError('bad_request', `${o.path} is not a directory`);
    const w = watchDir(o.session, o.path, { recursive }, onEvents);
    await w.ready;
    return { sandbox: o.sandbox, watch: w };
  };

  router.service(Filesystem, {
    stat: wrap(async (req, ctx: HandlerContext) => {
      const o = await open(ctx, req.path);
      return { entry: toEntryInfo(await files.stat(o.session, o.path)) };
    }),
    makeDir: wrap(async (req, ctx: HandlerContext) => {
      const o = await open(ctx, req.path);
      return { entry: toEntryInfo(await files.makeDir(o.session, o.path, o.user === 'root' ? undefined : o.user)) };
    }),
    move: wrap(async (req, ctx: HandlerContext) => {
      const o = await open(ctx, req.source);
      return { entry: toEntryInfo(await files.move(o.session, o.path, resolveGuestPath(req.destination, o.user))) };
    }),
    listDir: wrap(async (req, ctx: HandlerContext) => {
      const o = await open(ctx, req.path);
      return { entries: (await files.list(o.session, o.path, req.depth || 1)).map(toEntryInfo) };
    }),
    remove: wrap(async (req, ctx: HandlerContext) => {
      const o = await open(ctx, req.path);
      await files.remove(o.session, o.path);
      return {};
    }),
    async *watchDir(req, ctx) {
      const q = new EventQueue<WatchEvent[]>(16 * 1024 * 1024, (e) => e.length * 64);
      let w: { watch: DirWatch };
      try {
        w = await startWatch(ctx, req.path, req.recursive, (e) => q.push(e));
      } catch (err) {
        throw toConnectError(err);
      }
      ctx.signal.addEventListener('abort', () => w.watch.stop(), { once: true });
      void w.watch.ended.then((err) => q.close(err ?? undefined));
      yield { event: { case: 'start' as const, value: {} as Record<string, never> } };
      try {
        for await (const batch of q) {
          for (const e of batch) yield { event: { case: 'filesystem' as const, value: { name: e.name, type: EVENT_TYPES[e.type] } } };
        }
      } catch (err) {
        throw toConnectError(err);
      } finally {
        w.watch.stop();
      }
    },
    createWatcher: wrap(async (req, ctx: HandlerContext) => {
      const id = randomBytes(8).toString('hex');
      const events: WatchEvent[] = [];
      const { sandbox, watch } = await startWatch(ctx, req.path, req.recursive, (e) => {
        events.push(...e);
        if (events.length > WATCHER_MAX_EVENTS) events.splice(0, events.length - WATCHER_MAX_EVENTS);
      });
      watchers.set(id, { sandbox, watch, events });
      return { watcherId: id };
    }),
    getWatcherEvents: wrap(async (req, ctx: HandlerContext) => {
      const w = watchers.get(req.watcherId);
      if (!w || w.sandbox !== env.sandboxOf(ctx)) throw new BangerError('not_found', `watcher ${req.watcherId} not found`);
      const events = w.events.splice(0);
      return { events: events.map((e) => ({ name: e.name, type: EVENT_TYPES[e.type] })) };
    }),
    removeWatcher: wrap(async (req, ctx: HandlerContext) => {
      const w = watchers.get(req.watcherId);
      if (!w || w.sandbox !== env.sandboxOf(ctx)) throw new BangerError('not_found', `watcher ${req.watcherId} not found`);
      w.watch.stop();
      watchers.delete(req.watcherId);
      return {};
    }),
  });
  return {
    dropSandbox(id) {
      for (const [k, w] of watchers) {
        if (w.sandbox !== id) continue;
        w.watch.stop();
        watchers.delete(k);
      }
    },
  };
}
