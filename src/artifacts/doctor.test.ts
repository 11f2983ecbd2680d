import { describe, expect, it } from 'vitest';
import { artifactDoctorRows } from './doctor.js';

const rows = async (image: { sha256: string } | null, kernel: { release: string } | null) =>
  (await artifactDoctorRows({ imageName: 'default', image, kernelName: 'debian-cloud', kernel })).filter((r) => r.name !== 'rootless builds');

describe('artifactDoctorRows', () => {
  it('passes the default image and kernel once they are there', async () => {
    expect(await rows({ sha256: 'a'.repeat(64) }, { release: '6.1.0-28-cloud-amd64' })).toEqual([
      { name: 'default image', verdict: 'pass', detail: `default (${'a'.repeat(12)})` },
      { name: 'default kernel', verdict: 'pass', detail: 'debian-cloud: 6.1.0-28-cloud-amd64' },
    ]);
  });

  it('warns, with the way out, while they are not built or pulled yet', async () => {
    const r = await rows(null, null);
    expect(r.map((x) => [x.name, x.verdict])).toEqual([
      ['default image', 'warn'],
      ['default kernel', 'warn'],
    ]);
    expect(r[0].fix).toContain('banger image build');
    expect(r[1].fix).toContain('banger kernel pull');
  });
});
