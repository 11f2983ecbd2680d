/**
 * The CLI's first import (cli/main.ts): zod's object schemas compile a parser with `new Function` on
 * their first parse. That pays off in a long-lived process; a command parses each schema once or twice,
 * so there it is pure cost (4–6 ms for a `vm list` result with one VM, issue 13). zod reads the setting
 * when a schema is built, hence first: before any api/ module builds one. Parsing gives the same results.
 */
import { z } from 'zod';

z.config({ jitless: true });
