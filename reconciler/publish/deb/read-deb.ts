// The control fields of a .deb, read from the .deb itself.
import { DebFormatError } from '../../../schema/errors.ts';
import { parseAr } from './ar.ts';
import { controlFromTar, decompressMember } from './control-tar.ts';
import { field, parseControlParagraph, type ControlFields } from './control-paragraph.ts';

const REQUIRED = ['Package', 'Version', 'Architecture'] as const;

/** Parse `buf` (the bytes of a .deb) and return its control paragraph. `where` names it in errors. */
export async function readDebControl(buf: Buffer, where = '<deb>'): Promise<ControlFields> {
  const members = parseAr(buf, where);
  if (members[0]?.name !== 'debian-binary' || !members[0].data.toString('latin1').startsWith('2.')) {
    throw new DebFormatError(`${where}: not a Debian binary package (first member must be debian-binary '2.x')`, { file: where });
  }
  const control = members.find((m) => m.name.startsWith('control.tar'));
  if (!control) throw new DebFormatError(`${where}: no control.tar member`, { file: where });
  const tarBytes = await decompressMember(control.name, control.data, where);
  const text = controlFromTar(tarBytes, where);
  const fields = parseControlParagraph(text, `${where}:control`);
  for (const name of REQUIRED) {
    const v = field(fields, name);
    if (!v) throw new DebFormatError(`${where}:control: missing field '${name}'`, { file: where, field: name });
  }
  return fields;
}
