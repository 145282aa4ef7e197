// Labels every Kiln container carries, so that leftovers can be found and
// removed by whoever starts next (see sweep.ts).

/** What the container is for: 'build', 'deps', 'deps-check', 'gate'. */
export const ROLE_LABEL = 'kiln.role';
/** Epoch ms after which the container is an orphan, whoever started it. */
export const DEADLINE_LABEL = 'kiln.deadline';
/** How long past its time limit a container may live before `timeout` inside it kills it. */
export const ORPHAN_GRACE_SECONDS = 30;
