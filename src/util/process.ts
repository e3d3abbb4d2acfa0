/** Facts about processes that run directories and staging folders are marked with. */

/** Whether process `pid` runs on this host (a process of another user, EPERM, counts). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
