import { describe, expect, it } from 'vitest';
import { bootstrapArgv, bootstrapScript, BOOTSTRAP_LOG, pinsTools, planBootstrap, type BootstrapInputs } from './bootstrap.js';
import { checkRunFlags } from './commands/vm-create.js';
import { isYes } from './confirm.js';

const envOnly = { path: '.mise.toml', text: '[env]\nGREETING = "hi"\n[tasks.hello]\nrun = "echo hello"\n' };
const tools = { path: '.mise.toml', text: '[tools]\nnode = "20"\n' };
const toolVersions = { path: '.tool-versions', text: '# pins\nnodejs 20.11.0\n' };

describe('pinsTools', () => {
  it.each([
    [envOnly, false],
    [tools, true],
    [{ path: 'mise.toml', text: '[tools.python]\nversion = "3.12"\n' }, true],
    [{ path: 'mise.toml', text: 'tools = { go = "1.22" }\n' }, true],
    [{ path: 'mise.toml', text: '# [tools]\n[env]\nX = "[tools]"\n' }, false],
    [toolVersions, true],
    [{ path: '.tool-versions', text: '# nothing\n\n' }, false],
  ])('%j -> %s', (f, want) => expect(pinsTools(f)).toBe(want));
});

describe('planBootstrap', () => {
  const base: BootstrapInputs = { configs: [envOnly], noBootstrap: false, egress: true, interactive: false };
  it.each<[string, Partial<BootstrapInputs>, unknown]>([
    ['no config: nothing', { configs: [] }, { kind: 'none' }],
    ['no config, no egress: nothing', { configs: [], egress: false }, { kind: 'none' }],
    ['a command follows: foreground', {}, { kind: 'run', background: false, pinsTools: false, files: ['.mise.toml'] }],
    ['a shell follows: background', { interactive: true }, { kind: 'run', background: true, pinsTools: false, files: ['.mise.toml'] }],
    ['env/tasks only, no egress: still runs (nothing to download)', { egress: false }, { kind: 'run', background: false, pinsTools: false, files: ['.mise.toml'] }],
    ['pinned tools with egress', { configs: [tools, toolVersions] }, { kind: 'run', background: false, pinsTools: true, files: ['.mise.toml', '.tool-versions'] }],
    ['--no-bootstrap skips, even pinned without egress', { configs: [tools], egress: false, noBootstrap: true }, { kind: 'skip', reason: '--no-bootstrap (.mise.toml not installed)' }],
  ])('%s', (_what, over, want) => expect(planBootstrap({ ...base, ...over })).toEqual(want));

  it('refuses pinned tools without egress, naming the file and both ways out', () => {
    expect(() => planBootstrap({ ...base, configs: [toolVersions], egress: false })).toThrow(/pins tools in \.tool-versions.*no egress.*--no-bootstrap/);
  });
});

describe('the guest script', () => {
  it('trusts and installs in the workspace, all output on stderr, and succeeds without mise', () => {
    const s = bootstrapScript("/root/my repo");
    expect(s.split('\n')[0]).toBe('exec 1>&2');
    expect(s).toContain("cd '/root/my repo' || exit 1");
    expect(s).toMatch(/command -v mise.*exit 0/);
    expect(s).toMatch(/mise trust --all --yes[^\n]*\nmise install$/);
  });
  it('foreground: sh -c; background: detached with its log', () => {
    expect(bootstrapArgv('/r', false)).toEqual(['sh', '-c', bootstrapScript('/r')]);
    const bg = bootstrapArgv('/r', true);
    expect(bg[2]).toMatch(new RegExp(`^setsid -f sh -c '.*' >${BOOTSTRAP_LOG} 2>&1 </dev/null$`, 's'));
  });
});

describe('vm run flag refusals', () => {
  it.each<[object, string[] | null, RegExp | null]>([
    [{ detach: true, rm: true, bootstrap: true }, null, /-d\/--detach keeps the VM running, --rm deletes it/],
    [{ detach: true, bootstrap: true }, ['make'], /-d\/--detach runs nothing/],
    [{ detach: true, bootstrap: true }, null, null],
    [{ detach: true, bootstrap: true }, [], null],
    [{ rm: true, bootstrap: true }, ['make'], null],
  ])('%j with %j', (o, cmd, err) => {
    if (err) expect(() => checkRunFlags(o as never, cmd)).toThrow(err);
    else expect(() => checkRunFlags(o as never, cmd)).not.toThrow();
  });
});

describe('the prune answer', () => {
  it.each([['y', true], ['YES', true], [' yes ', true], ['', false], ['n', false], ['yep', false]])('answer %j -> %s', (a, want) => expect(isYes(a)).toBe(want));
});
