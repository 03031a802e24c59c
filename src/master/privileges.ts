// User/Group: a master started as root keeps root (to bind privileged ports and to manage its
// children) and starts its children as User:Group, like httpd.
import { execFileSync } from 'node:child_process';
import { PrivilegeError } from '../errors';

export interface ChildIdentity {
  uid: number;
  gid: number;
}

/** Apache accepts a name or `#number`. */
function lookup(kind: 'passwd' | 'group', name: string): { id: number; gid?: number } {
  if (name.startsWith('#')) {
    const id = Number(name.slice(1));
    if (Number.isInteger(id) && id >= 0) return { id };
    throw new PrivilegeError(`bad ${kind === 'passwd' ? 'User' : 'Group'} ${name}`);
  }
  let line: string;
  try {
    line = execFileSync('getent', [kind, name], { encoding: 'utf8' }).trim();
  } catch {
    throw new PrivilegeError(`${kind === 'passwd' ? 'User' : 'Group'} ${name} does not exist`);
  }
  const f = line.split(':');
  return kind === 'passwd' ? { id: Number(f[2]), gid: Number(f[3]) } : { id: Number(f[2]) };
}

/** Null when children keep the master's identity (not root, or no User configured). */
export function childIdentity(user: string | null, group: string | null): ChildIdentity | null {
  if (process.getuid?.() !== 0 || (!user && !group)) return null;
  const u = user ? lookup('passwd', user) : { id: 0, gid: 0 };
  const gid = group ? lookup('group', group).id : (u.gid ?? 0);
  return { uid: u.id, gid };
}
