// How a mirror of a remote metadata repo is laid out: named here, below both
// remote/ (which makes mirrors) and desired/ (which must recognise one), so
// neither folder imports the other.

/** The mirror's one remote: its URL is the remote metadata repo's (relative package sources are resolved against it). */
export const MIRROR_REMOTE = 'kiln';

/** Where fetched remote refs land in the mirror before the sync step judges them (same layout for both transports). */
export const FETCHED_PREFIX = 'refs/kiln/fetched/';
