/** Small graph walks over event IDs, iterative so deep auth chains cannot overflow the stack. */

/**
 * Calls `visit` once for every node reachable from `roots` (the roots
 * included), each after all of its children; nodes already in `done` are
 * neither walked nor visited again (`done` gains every visited node). An
 * edge back to a node on the current path (a cycle) is ignored.
 */
export function postOrder(
  roots: Iterable<string>,
  children: (id: string) => readonly string[],
  visit: (id: string) => void,
  done: Set<string> = new Set(),
): void {
  const active = new Set<string>();
  const stack: string[] = [];
  const expanded: boolean[] = [];
  for (const root of roots) {
    if (done.has(root)) continue;
    stack.push(root);
    expanded.push(false);
    while (stack.length > 0) {
      const i = stack.length - 1;
      const id = stack[i]!;
      if (!expanded[i]) {
        if (done.has(id) || active.has(id)) {
          stack.pop();
          expanded.pop();
          continue;
        }
        expanded[i] = true;
        active.add(id);
        for (const c of children(id)) {
          if (!done.has(c) && !active.has(c)) {
            stack.push(c);
            expanded.push(false);
          }
        }
      } else {
        stack.pop();
        expanded.pop();
        active.delete(id);
        done.add(id);
        visit(id);
      }
    }
  }
}
