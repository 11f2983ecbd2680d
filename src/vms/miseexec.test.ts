import { describe, expect, it } from 'vitest';
import { workspaceCommand } from './miseexec.js';

describe('workspaceCommand', () => {
  it('runs the quoted argv inside mise exec when mise and a config are there, else as it is', () => {
    const line = workspaceCommand('/root/repo', ['sh', '-c', 'echo $GREETING']);
    expect(line.startsWith('cd /root/repo && if command -v mise >/dev/null 2>&1 && { [ -f .mise.toml ] || ')).toBe(true);
    expect(line).toContain('[ -f .tool-versions ]');
    expect(line).toContain("then MISE_EXEC_AUTO_INSTALL=0 MISE_YES=1 mise exec -- sh -c 'echo $GREETING'; else sh -c 'echo $GREETING'; fi");
  });
});
