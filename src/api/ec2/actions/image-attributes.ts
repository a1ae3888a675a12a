// DescribeImageAttribute's attributes that Strata's images have no choice about, answered as EC2 answers them
// for an hvm image with no product codes, no paravirtual kernel, virtio networking (no SR-IOV), no NitroTPM,
// no stored UEFI variables, IMDS v1 and v2 allowed and no deregistration protection: mostly empty elements.
// lastLaunchedTime is the newest launch of the image by any instance Strata still has.
import { assertNever } from '../../../base/assert.ts';
import type { Cloud } from '../../../cloud/cloud.ts';
import type { Image } from '../../../cloud/images/images.ts';
import type { XmlObject } from '../xml.ts';

/** The attribute names answered here. */
export const fixedImageAttributes = [
  'productCodes',
  'kernel',
  'ramdisk',
  'sriovNetSupport',
  'tpmSupport',
  'uefiData',
  'lastLaunchedTime',
  'imdsSupport',
  'deregistrationProtection',
] as const;

/** One of fixedImageAttributes. */
export type FixedImageAttribute = (typeof fixedImageAttributes)[number];

/** Whether `name` is answered by fixedImageAttributeXml. */
export function isFixedImageAttribute(name: string): name is FixedImageAttribute {
  return (fixedImageAttributes as readonly string[]).includes(name);
}

/** The DescribeImageAttribute elements for `attribute` of `image`. */
export async function fixedImageAttributeXml(
  cloud: Cloud,
  image: Image,
  attribute: FixedImageAttribute,
): Promise<XmlObject> {
  switch (attribute) {
    case 'productCodes':
      return { productCodes: [] };
    case 'lastLaunchedTime': {
      const last = await cloud.compute.images.lastLaunched(image.row.id);
      return { lastLaunchedTime: last === undefined ? {} : { value: last } };
    }
    case 'deregistrationProtection':
      return { deregistrationProtection: { value: 'disabled' } };
    case 'kernel':
    case 'ramdisk':
    case 'sriovNetSupport':
    case 'tpmSupport':
    case 'uefiData':
    case 'imdsSupport':
      return { [attribute]: {} };
    default:
      return assertNever(attribute, 'image attribute');
  }
}
