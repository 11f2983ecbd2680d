/**
 * `banger doctor`'s rows about artifacts: whether the default image and kernel are there yet and,
 * for a non-root user, whether rootless image builds can work (artifacts/image/rootless.ts).
 * The service looks the defaults up in the registry; this file only words the verdicts.
 */
import type { DoctorCheck } from '../api/daemon.js';
import { rootlessFacts, rootlessProblems } from './image/rootless.js';

export interface ArtifactDoctorInput {
  imageName: string;
  /** The default image's registry row, when it is built. */
  image: { sha256: string } | null;
  kernelName: string;
  /** The default kernel's manifest, when it is pulled. */
  kernel: { release: string } | null;
}

export async function artifactDoctorRows(o: ArtifactDoctorInput): Promise<DoctorCheck[]> {
  // As a non-root user, image builds need a user namespace with subordinate ids (artifacts/image/rootless.ts).
  const rootless: DoctorCheck[] = [];
  if (process.getuid?.() !== 0) {
    const problems = rootlessProblems('build', await rootlessFacts());
    rootless.push(
      problems.length === 0
        ? { name: 'rootless builds', verdict: 'pass', detail: 'uidmap, fakeroot and subordinate id ranges present' }
        : { name: 'rootless builds', verdict: o.image ? 'warn' : 'fail', detail: problems.join('; '), fix: 'run each command given, then `banger image build`' },
    );
  }
  return [
    ...rootless,
    o.image
      ? { name: 'default image', verdict: 'pass', detail: `${o.imageName} (${o.image.sha256.slice(0, 12)})` }
      : { name: 'default image', verdict: 'warn', detail: `${o.imageName} not built yet`, fix: 'it is built on first `banger vm run` (or run `banger image build`)' },
    o.kernel
      ? { name: 'default kernel', verdict: 'pass', detail: `${o.kernelName}: ${o.kernel.release}` }
      : { name: 'default kernel', verdict: 'warn', detail: `${o.kernelName} not pulled yet`, fix: 'it is pulled on first use (or run `banger kernel pull`)' },
  ];
}
