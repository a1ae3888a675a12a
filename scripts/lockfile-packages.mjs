#!/usr/bin/env node
// Prints how many packages `npm ci` installs from a package-lock.json on this machine: those that are not
// meant for another OS, CPU or libc (esbuild lists a binary for every platform). For install progress.
import { readFileSync } from 'node:fs';

const lockfile = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const fits = (list, value) => list === undefined || list.includes(value);
const count = Object.entries(lockfile.packages ?? {}).filter(
  ([path, entry]) => path !== '' && fits(entry.os, process.platform) && fits(entry.cpu, process.arch),
).length;
console.log(count);
