import { describe, expect, it } from 'vitest';
import { buildahBuildArgv } from './build.js';
import { parseReference } from './ref.js';
import { skopeoCopyArgv, skopeoError, skopeoInspectRawArgv } from './skopeo.js';

describe('skopeo argv', () => {
  it('copy: linux/amd64, the shared blob cache, credentials and --insecure', () => {
    expect(skopeoCopyArgv({ src: 'docker://r/x:1', destDir: '/s/layout', destTag: 'image', sharedBlobDir: '/c/blobs', insecure: true, authFile: '/h/.docker/config.json' })).toEqual([
      'skopeo', 'copy', '--override-os', 'linux', '--override-arch', 'amd64', '--src-tls-verify=false', '--src-authfile', '/h/.docker/config.json',
      '--dest-shared-blob-dir', '/c/blobs', 'docker://r/x:1', 'oci:/s/layout:image',
    ]);
    expect(skopeoCopyArgv({ src: 'docker-archive:/s/a.tar', destDir: '/s/l', destTag: 'image' })).toEqual([
      'skopeo', 'copy', '--override-os', 'linux', '--override-arch', 'amd64', 'docker-archive:/s/a.tar', 'oci:/s/l:image',
    ]);
    expect(() => skopeoCopyArgv({ src: 'docker://r/x', destDir: '/a:b', destTag: 'image' })).toThrow(/contains ":"/);
  });

  it('inspect uses the canonical reference', () => {
    expect(skopeoInspectRawArgv(parseReference('busybox'), false)).toEqual(['skopeo', 'inspect', '--raw', 'docker://docker.io/library/busybox:latest']);
  });
});

describe('skopeoError', () => {
  it.each([
    ['no image found in image index for architecture amd64, variant "", OS linux', 'bad_request', /no linux\/amd64 image/],
    ['reading manifest 1 in r/x: unauthorized: authentication required', 'bad_request', /refused access.*skopeo login r:5000/],
    ['reading manifest 1 in r/x: manifest unknown: manifest unknown', 'not_found', /no such image/],
    ['pinging container registry r: Get "https://r/v2/": http: server gave HTTP response to HTTPS client', 'unavailable', /--insecure/],
    ['Digest did not match, expected sha256:aa, got sha256:bb', 'bad_request', /did not match its digest/],
    ['dial tcp 127.0.0.1:1: connect: connection refused', 'unavailable', /cannot reach/],
    ['something else entirely', 'internal', /skopeo copy failed/],
    // A port or digest holding "401"/"404" is not an HTTP status.
    ['pinging container registry 127.0.0.1:40151: http: server gave HTTP response to HTTPS client', 'unavailable', /--insecure/],
    ['reading manifest 1 in 127.0.0.1:40404/x: manifest unknown', 'not_found', /no such image/],
  ])('%s', (out, code, message) => {
    const e = skopeoError('docker://r/x:1', 'r:5000', out);
    expect(e.code).toBe(code);
    expect(e.message).toMatch(message);
  });
});

describe('buildah build argv', () => {
  const base = { dockerfile: '/c/Dockerfile', context: '/c' };
  it('chroot isolation, banger storage, args, target, insecure', () => {
    expect(buildahBuildArgv('/cache/buildah', { ...base, buildArgs: ['A=1', 'B'], target: 'app', insecure: true }, 'localhost/t:latest')).toEqual([
      'buildah', '--root', '/cache/buildah/storage', '--runroot', '/cache/buildah/run', '--storage-driver', 'vfs',
      'build', '--isolation', 'chroot', '--file', '/c/Dockerfile', '--tag', 'localhost/t:latest',
      '--build-arg', 'A=1', '--build-arg', 'B', '--target', 'app', '--tls-verify=false', '--', '/c',
    ]);
  });
  it.each([
    [{ buildArgs: ['has space=1'] }, /--build-arg/],
    [{ buildArgs: ['=x'] }, /--build-arg/],
    [{ buildArgs: ['--evil'] }, /--build-arg/],
    [{ target: '--rm' }, /--target/],
  ])('refuses %j', (extra, message) => {
    expect(() => buildahBuildArgv('/b', { ...base, ...extra }, 't')).toThrow(message);
  });
});
