/**
 * Shell completion: `banger completion bash|zsh|fish` prints a script, and the hidden
 * `banger __complete vms|images|kernels` prints names one per line for it.
 *
 * The command tree (subcommands, options, which positionals and options take VM, image or kernel
 * names) is read from the commander program when the script is generated, so it never drifts from
 * the CLI; only the names are fetched on each Tab press. The three generators share one table.
 */
import { Command } from 'commander';
import { BangerError } from '../../api/errors.js';
import { quote } from '../../guest/quote.js';
import type { CliContext } from '../context.js';

export const NAME_KINDS = ['vms', 'images', 'kernels'] as const;
export type NameKind = (typeof NAME_KINDS)[number];
export const SHELLS = ['bash', 'zsh', 'fish'] as const;
export type Shell = (typeof SHELLS)[number];

export interface CompletionNode {
  /** Words from the program name down, space-separated: `banger vm start`. */
  path: string;
  subcommands: Array<{ name: string; aliases: string[]; description: string }>;
  options: Array<{ flags: string[]; takesValue: boolean; kind?: NameKind; description: string }>;
  /** Positionals that name existing VMs, images or kernels. */
  args?: { kind: NameKind; variadic: boolean };
}

/** A command's positional names refer to existing objects of its group... */
const GROUP_KIND: Record<string, NameKind> = { vm: 'vms', image: 'images', kernel: 'kernels' };
/** ...except for the verbs that make a new one. */
const MAKES_NEW = new Set(['create', 'run', 'build', 'import', 'pull']);
const OPTION_KIND: Record<string, NameKind> = { '--image': 'images', '--kernel': 'kernels', '--vm': 'vms' };

const firstLine = (s: string) => s.split('\n')[0] ?? '';

/** Flattens the program into one node per command. Pure. */
export function completionTree(program: Command): CompletionNode[] {
  const nodes: CompletionNode[] = [];
  const walk = (cmd: Command, path: string, parent: string | undefined) => {
    const help = cmd.createHelp();
    const subs = help.visibleCommands(cmd);
    const node: CompletionNode = {
      path,
      subcommands: subs.map((c) => ({ name: c.name(), aliases: c.aliases(), description: firstLine(c.summary() || c.description()) })),
      options: help.visibleOptions(cmd).map((o) => ({
        flags: [o.short, o.long].filter((f): f is string => !!f),
        takesValue: o.required || o.optional,
        ...(o.long && OPTION_KIND[o.long] ? { kind: OPTION_KIND[o.long] } : {}),
        description: firstLine(o.description),
      })),
    };
    const arg = cmd.registeredArguments[0];
    const kind = parent ? GROUP_KIND[parent] : undefined;
    if (arg && kind && !MAKES_NEW.has(cmd.name()) && /^names?$/.test(arg.name())) node.args = { kind, variadic: arg.variadic };
    nodes.push(node);
    for (const sub of subs) walk(sub, `${path} ${sub.name()}`, cmd.name());
  };
  walk(program, program.name(), undefined);
  return nodes;
}

/** The lookup tables every script carries, as key → value pairs. */
function tables(nodes: readonly CompletionNode[]) {
  const next: Array<[string, string]> = [];
  const subs: Array<[string, string]> = [];
  const opts: Array<[string, string]> = [];
  const valueOpts: Array<[string, string]> = [];
  const optKind: Array<[string, string]> = [];
  const argKind: Array<[string, string]> = [];
  const argMany: Array<[string, string]> = [];
  for (const n of nodes) {
    for (const s of n.subcommands) for (const w of [s.name, ...s.aliases]) next.push([`${n.path}/${w}`, `${n.path} ${s.name}`]);
    if (n.subcommands.length) subs.push([n.path, n.subcommands.map((s) => s.name).join(' ')]);
    opts.push([n.path, n.options.flatMap((o) => o.flags).join(' ')]);
    const withValue = n.options.filter((o) => o.takesValue);
    if (withValue.length) valueOpts.push([n.path, withValue.flatMap((o) => o.flags).join(' ')]);
    for (const o of n.options) if (o.kind) for (const f of o.flags) optKind.push([`${n.path}/${f}`, o.kind]);
    if (n.args) {
      argKind.push([n.path, n.args.kind]);
      if (n.args.variadic) argMany.push([n.path, '1']);
    }
  }
  return { next, subs, opts, valueOpts, optKind, argKind, argMany };
}

const TABLE_NAMES = {
  next: '_banger_next',
  subs: '_banger_subs',
  opts: '_banger_opts',
  valueOpts: '_banger_vopts',
  optKind: '_banger_okind',
  argKind: '_banger_akind',
  argMany: '_banger_amany',
} as const;

export function bashScript(nodes: readonly CompletionNode[]): string {
  const t = tables(nodes);
  const decls = (Object.keys(TABLE_NAMES) as Array<keyof typeof TABLE_NAMES>).map(
    (k) => `declare -gA ${TABLE_NAMES[k]}=(${t[k].map(([key, v]) => `[${quote(key)}]=${quote(v)}`).join(' ')})`,
  );
  return `# banger completion for bash. Load it with:  source <(banger completion bash)
${decls.join('\n')}
_banger_names() { "\${COMP_WORDS[0]/#\\~/$HOME}" __complete "$1" 2>/dev/null; }
_banger_complete() {
  local cur=\${COMP_WORDS[COMP_CWORD]} cpath=banger w i npos=0 skip=0 kind= words
  for ((i = 1; i < COMP_CWORD; i++)); do
    w=\${COMP_WORDS[i]}
    if ((skip)); then skip=0; continue; fi
    # After -- comes the guest command: complete files.
    if [[ $w == -- ]]; then compopt -o default 2>/dev/null; COMPREPLY=(); return 0; fi
    if [[ $w == -* ]]; then
      [[ $w != *=* && " \${_banger_vopts[$cpath]} " == *" $w "* ]] && skip=1
      continue
    fi
    if [[ -n \${_banger_next["$cpath/$w"]} ]]; then cpath=\${_banger_next["$cpath/$w"]}; npos=0; else npos=$((npos + 1)); fi
  done
  if ((skip)); then
    kind=\${_banger_okind["$cpath/\${COMP_WORDS[COMP_CWORD-1]}"]}
    # A name, or else a value banger cannot know (a file, a size): let bash complete files.
    if [[ -n $kind ]]; then COMPREPLY=($(compgen -W "$(_banger_names "$kind")" -- "$cur")); else compopt -o default 2>/dev/null; COMPREPLY=(); fi
    return 0
  fi
  if [[ $cur == -* ]]; then COMPREPLY=($(compgen -W "\${_banger_opts[$cpath]}" -- "$cur")); return 0; fi
  words=\${_banger_subs[$cpath]}
  kind=\${_banger_akind[$cpath]}
  if [[ -n $kind ]] && [[ -n \${_banger_amany[$cpath]} || $npos == 0 ]]; then words+=" $(_banger_names "$kind")"; fi
  COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -F _banger_complete banger
`;
}

export function zshScript(nodes: readonly CompletionNode[]): string {
  const t = tables(nodes);
  const decls = (Object.keys(TABLE_NAMES) as Array<keyof typeof TABLE_NAMES>).map(
    (k) => `typeset -gA ${TABLE_NAMES[k]}\n${TABLE_NAMES[k]}=(${t[k].map(([key, v]) => `${quote(key)} ${quote(v)}`).join(' ')})`,
  );
  return `#compdef banger
# banger completion for zsh. Load it with:  source <(banger completion zsh)   (after compinit)
# or save it as _banger in a directory on $fpath.
${decls.join('\n')}
_banger_names() { \${~words[1]} __complete "$1" 2>/dev/null; }
_banger() {
  local cpath=banger w kind key
  local -a cands
  integer i npos=0 skip=0
  for ((i = 2; i < CURRENT; i++)); do
    w=\${words[i]}
    if ((skip)); then skip=0; continue; fi
    # After -- comes the guest command: complete files.
    if [[ $w == -- ]]; then _files; return; fi
    if [[ $w == -* ]]; then
      [[ $w != *=* && " \${_banger_vopts[$cpath]} " == *" $w "* ]] && skip=1
      continue
    fi
    key="$cpath/$w"
    if [[ -n \${_banger_next[$key]} ]]; then cpath=\${_banger_next[$key]}; npos=0; else npos+=1; fi
  done
  if ((skip)); then
    key="$cpath/\${words[CURRENT-1]}"
    kind=\${_banger_okind[$key]}
    if [[ -n $kind ]]; then cands=(\${(f)"$(_banger_names $kind)"}); compadd -a cands; else _files; fi
    return
  fi
  if [[ \${words[CURRENT]} == -* ]]; then cands=(\${=_banger_opts[$cpath]}); compadd -a cands; return; fi
  cands=(\${=_banger_subs[$cpath]})
  kind=\${_banger_akind[$cpath]}
  if [[ -n $kind ]] && [[ -n \${_banger_amany[$cpath]} || $npos == 0 ]]; then cands+=(\${(f)"$(_banger_names $kind)"}); fi
  compadd -a cands
}
if [[ \${zsh_eval_context[-1]} == loadautofunc ]]; then _banger "$@"; else compdef _banger banger; fi
`;
}

export function fishScript(nodes: readonly CompletionNode[]): string {
  const t = tables(nodes);
  const cases = (pairs: Array<[string, string]>, body: (v: string) => string) => pairs.map(([k, v]) => `            case ${quote(k)}\n                ${body(v)}`).join('\n');
  const valueCases = t.valueOpts.flatMap(([path, flags]) => flags.split(' ').map((f) => `${path}/${f}`));
  const lines: string[] = [];
  for (const n of nodes) {
    const at = `__banger_at ${quote(n.path)}`;
    for (const s of n.subcommands) lines.push(`complete -c banger -n ${quote(at)} -a ${quote(s.name)} -d ${quote(s.description)}`);
    for (const o of n.options) {
      const flags = o.flags.map((f) => (f.startsWith('--') ? `-l ${quote(f.slice(2))}` : `-s ${quote(f.slice(1))}`)).join(' ');
      const value = o.takesValue ? (o.kind ? ` -r -f -a ${quote(`(__banger_names ${o.kind})`)}` : ' -r -F') : '';
      lines.push(`complete -c banger -n ${quote(at)} ${flags}${value} -d ${quote(o.description)}`);
    }
    if (n.args) lines.push(`complete -c banger -n ${quote(`__banger_arg ${quote(n.path)} ${n.args.variadic ? 1 : 0}`)} -a ${quote(`(__banger_names ${n.args.kind})`)}`);
  }
  return `# banger completion for fish. Load it with:  banger completion fish | source
# or save it as ~/.config/fish/completions/banger.fish
function __banger_names
    set -l toks (commandline -opc)
    $toks[1] __complete $argv[1] 2>/dev/null
end
# Prints the command path at the cursor and how many positionals follow it ("--" after a bare --).
function __banger_walk
    set -l toks (commandline -opc)
    set -e toks[1]
    set -l p banger
    set -l n 0
    set -l skip 0
    for w in $toks
        if test $skip = 1
            set skip 0
            continue
        end
        if test "$w" = --
            echo -- --
            return
        end
        switch "$p/$w"
${cases(t.next, (v) => `set p ${quote(v)}; set n 0; continue`)}
        end
        if string match -q -- '-*' "$w"
${valueCases.length ? `            switch "$p/$w"\n${valueCases.map((k) => `                case ${quote(k)}\n                    set skip 1`).join('\n')}\n            end` : ''}
            continue
        end
        set n (math $n + 1)
    end
    echo -- $p
    echo -- $n
end
function __banger_at -a want
    set -l s (__banger_walk)
    test "$s[1]" = "$want"
end
function __banger_arg -a want many
    set -l s (__banger_walk)
    test "$s[1]" = "$want"; and begin; test "$many" = 1; or test "$s[2]" = 0; end
end
complete -c banger -f
complete -c banger -n '__banger_at --' -F
${lines.join('\n')}
`;
}

export function completionScript(shell: Shell, program: Command): string {
  const nodes = completionTree(program);
  return shell === 'bash' ? bashScript(nodes) : shell === 'zsh' ? zshScript(nodes) : fishScript(nodes);
}

/**
 * Names for the hidden `__complete`. It never starts the daemon: a Tab press must not spawn bangerd or
 * wait for it, so with no daemon running there is nothing to offer.
 */
export async function listNames(kind: NameKind, socket: string): Promise<string[]> {
  try {
    const { call } = await import('../../api/client.js');
    switch (kind) {
      case 'vms':
        return (await call(socket, 'vm.list', {})).vms.map((v) => v.name);
      case 'images':
        return (await call(socket, 'image.list', {})).images.map((i) => i.name);
      case 'kernels':
        return (await call(socket, 'kernel.list', {})).kernels.map((k) => k.name);
    }
  } catch (err) {
    if (err instanceof BangerError && err.code === 'unavailable') return [];
    throw err;
  }
}

export function completionCommands(program: Command, ctx: CliContext): void {
  program
    .command('completion')
    .description('print a shell completion script (bash, zsh or fish)')
    .argument('<shell>', SHELLS.join(' | '))
    .addHelpText('after', '\nLoad it:\n  bash:  source <(banger completion bash)   (e.g. in ~/.bashrc)\n  zsh:   source <(banger completion zsh)    (after compinit)\n  fish:  banger completion fish | source')
    .action((shell: string) => {
      if (!(SHELLS as readonly string[]).includes(shell)) throw new BangerError('bad_request', `no completion for shell "${shell}"; use one of ${SHELLS.join(', ')}`);
      process.stdout.write(completionScript(shell as Shell, program));
    });
  program
    .command('__complete', { hidden: true })
    .description('print VM, image or kernel names, one per line (used by the completion scripts)')
    .argument('<kind>', NAME_KINDS.join(' | '))
    .action(async (kind: string) => {
      if (!(NAME_KINDS as readonly string[]).includes(kind)) throw new BangerError('bad_request', `unknown name kind "${kind}"; use one of ${NAME_KINDS.join(', ')}`);
      const names = await listNames(kind as NameKind, ctx.target().socket);
      if (names.length) process.stdout.write(`${names.join('\n')}\n`);
    });
}
