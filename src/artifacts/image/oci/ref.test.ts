import { describe, expect, it } from 'vitest';
import { defaultImageName, parseReference } from './ref.js';

const D = `sha256:${'a'.repeat(64)}`;

describe('parseReference', () => {
  it.each([
    ['busybox', 'docker.io', 'library/busybox', 'latest', null, 'docker.io/library/busybox:latest'],
    ['busybox:1.36', 'docker.io', 'library/busybox', '1.36', null, 'docker.io/library/busybox:1.36'],
    ['docker.io/library/python:3.12-slim', 'docker.io', 'library/python', '3.12-slim', null, 'docker.io/library/python:3.12-slim'],
    ['index.docker.io/org/app', 'docker.io', 'org/app', 'latest', null, 'docker.io/org/app:latest'],
    ['org/app', 'docker.io', 'org/app', 'latest', null, 'docker.io/org/app:latest'],
    ['localhost:5000/x:tag', 'localhost:5000', 'x', 'tag', null, 'localhost:5000/x:tag'],
    ['localhost/x', 'localhost', 'x', 'latest', null, 'localhost/x:latest'],
    ['127.0.0.1:35000/a/b-c/d_e', '127.0.0.1:35000', 'a/b-c/d_e', 'latest', null, '127.0.0.1:35000/a/b-c/d_e:latest'],
    [`ghcr.io/org/img@${D}`, 'ghcr.io', 'org/img', null, D, `ghcr.io/org/img@${D}`],
    [`ghcr.io/org/img:v1@${D}`, 'ghcr.io', 'org/img', 'v1', D, `ghcr.io/org/img:v1@${D}`],
  ])('%s', (ref, registry, repository, tag, digest, canonical) => {
    expect(parseReference(ref)).toEqual({ registry, repository, tag, digest, canonical });
  });

  it.each([
    ['', 'empty'],
    ['Busybox', 'repository path'],
    ['busybox:', 'tag'],
    ['busybox:-x', 'tag'],
    ['a b', 'whitespace'],
    ['busybox@sha256:abc', 'digest'],
    ['busybox@md5:' + 'a'.repeat(32), 'digest'],
    ['host:99x/x', 'registry'],
    ['docker.io/', 'repository path'],
    ['docker.io/a//b', 'repository path'],
    ['../etc', 'registry'],
    ['-rm', 'repository path'],
  ])('refuses %j (%s)', (ref, why) => {
    expect(() => parseReference(ref)).toThrow(why);
  });
});

describe('defaultImageName', () => {
  it.each([
    ['busybox', 'busybox'],
    ['docker.io/library/python:3.12-slim', 'python-3-12-slim'],
    ['localhost:5000/team/My_App'.toLowerCase() + ':v2', 'my-app-v2'],
    [`ghcr.io/org/img@${D}`, 'img'],
    [`x/${'a'.repeat(70)}`, 'a'.repeat(63)],
  ])('%s → %s', (ref, name) => {
    expect(defaultImageName(parseReference(ref))).toBe(name);
  });
});
