/**
 * Test fixture for the completion scripts: runs a generated script in the real shell and returns what
 * it offers, plus the scenarios every shell must pass. Used by completion.host.test.ts (stand-in banger) and
 * completion.vm.test.ts (a real install). Not imported by production code.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../src/host/exec.js';
import type { Shell } from '../src/cli/commands/completion.js';

/** Candidates a shell offers for the command line `words` (the last word is the one being completed). */
export type Completer = (words: string[]) => Promise<string[]>;

/** `env` must put the `banger` to call on PATH (its XDG variables select the install). */
export function shellCompleter(shell: Shell, script: string, env: NodeJS.ProcessEnv): { complete: Completer; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'bcomp-'));
  const file = join(dir, `banger.${shell}`);
  writeFileSync(file, script);
  const complete: Completer = async (words) => {
    const cur = words[words.length - 1];
    let argv: string[];
    if (shell === 'bash') {
      argv = ['bash', '-c', 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _banger_complete; printf "%s\\n" "${COMPREPLY[@]}"', 'bash', file, ...words];
    } else if (shell === 'zsh') {
      // compadd/compdef/_files exist only inside zle completion: stand-ins that print what would be offered.
      const stubs = 'compdef() { :; }; compadd() { if [[ $1 == -a ]]; then print -l -- ${(P)2}; else print -l -- "$@"; fi; }; _files() { print -- "<files>"; }';
      argv = ['zsh', '-fc', `${stubs}; source "$1"; shift; words=("$@"); CURRENT=$#; _banger`, 'zsh', file, ...words];
    } else {
      argv = ['fish', '--no-config', '-c', 'source $argv[1]; complete -C (string join " " -- $argv[2..-1])', file, ...words];
    }
    const r = await run(argv, { env, check: false, cwd: dir });
    if (r.code !== 0 && shell !== 'bash') throw new Error(`${shell} failed (${r.code}): ${r.stderr}`);
    const offered = r.stdout.split('\n').map((l) => l.split('\t')[0]).filter(Boolean);
    // zsh's compadd filters by the typed prefix; the stand-in does not.
    return shell === 'zsh' ? offered.filter((w) => w.startsWith(cur) || w === '<files>') : offered;
  };
  return { complete, dir };
}

export interface CompletionCase {
  label: string;
  words: string[];
  /** Exactly these (in any order). */
  equals?: string[];
  includes?: string[];
  excludes?: string[];
}

/** The same scenarios for every shell, given the names the install holds (at least one of each). */
export function completionCases(names: { vms: string[]; images: string[]; kernels: string[] }): CompletionCase[] {
  return [
    { label: 'top-level commands', words: ['banger', ''], includes: ['vm', 'image', 'kernel', 'doctor', 'completion'], excludes: ['__complete'] },
    { label: 'subcommands by prefix', words: ['banger', 'vm', 'st'], equals: ['start', 'stats', 'stop'] },
    { label: 'VM names for a variadic command', words: ['banger', 'vm', 'start', ''], equals: names.vms },
    { label: 'VM names after an alias and a first name', words: ['banger', 'vm', 'rm', names.vms[0], ''], equals: names.vms },
    { label: 'VM names after the first vm set takes (several VMs)', words: ['banger', 'vm', 'set', names.vms[0], ''], equals: names.vms },
    { label: 'nothing after the one name vm exec takes', words: ['banger', 'vm', 'exec', names.vms[0], ''], equals: [] },
    { label: 'image names for --image', words: ['banger', 'vm', 'create', '--name', 'x', '--image', ''], equals: names.images },
    { label: 'kernel names', words: ['banger', 'kernel', 'show', ''], equals: names.kernels },
    { label: 'image names by prefix', words: ['banger', 'image', 'export', names.images[0].slice(0, 3)], includes: [names.images[0]] },
    { label: 'options', words: ['banger', 'vm', 'stop', '-'], includes: ['-t', '--timeout', '--help'] },
    { label: 'no names for a value that is not one', words: ['banger', 'vm', 'stop', '-t', ''], excludes: names.vms },
    { label: 'no names for a new kernel', words: ['banger', 'kernel', 'import', ''], equals: [] },
    { label: 'no names after --', words: ['banger', 'vm', 'exec', names.vms[0], '--', ''], excludes: names.vms },
  ];
}
