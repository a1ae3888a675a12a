// EC2 key pair actions: CreateKeyPair, ImportKeyPair, DescribeKeyPairs, DeleteKeyPair. The semantics live in
// cloud/key-pairs/key-pairs.ts; this file reads parameters and shapes EC2's XML.
import type { KeyPair } from '../../../cloud/key-pairs/key-pairs.ts';
import { defineAction } from '../action.ts';
import { checkDryRun, dryRunCheck } from '../dry-run.ts';
import type { XmlObject } from '../xml.ts';
import { tagSet } from './volumes.ts';

function keyPairXml(keyPair: KeyPair, includePublicKey: boolean): XmlObject {
  const { row, tags } = keyPair;
  return {
    keyPairId: row.id,
    keyType: row.key_type,
    tagSet: tagSet(tags),
    publicKey: includePublicKey ? row.public_key : undefined,
    keyName: row.name,
    keyFingerprint: row.fingerprint,
    createTime: row.created_at,
  };
}

/** EC2 CreateKeyPair. */
export const createKeyPair = defineAction({
  name: 'CreateKeyPair',
  params: ['KeyName', 'KeyType', 'KeyFormat', 'TagSpecification.N', 'DryRun'],
  status: 'partial',
  notes: 'KeyFormat ppk is refused (UnsupportedOperation); pem works for rsa and ed25519',
  async run(ctx, params) {
    const created = await ctx.cloud.compute.keyPairs.create(ctx.accountId, {
      name: params.string('KeyName'),
      keyType: params.string('KeyType'),
      keyFormat: params.string('KeyFormat'),
      tagSpecifications: params.tagSpecifications(),
      dryRun: dryRunCheck(ctx, params),
    });
    return {
      keyName: created.row.name,
      keyFingerprint: created.row.fingerprint,
      keyMaterial: created.privateKey,
      keyPairId: created.row.id,
      tagSet: tagSet(created.tags),
    };
  },
});

/** EC2 ImportKeyPair. */
export const importKeyPair = defineAction({
  name: 'ImportKeyPair',
  params: ['KeyName', 'PublicKeyMaterial', 'TagSpecification.N', 'DryRun'],
  async run(ctx, params) {
    const imported = await ctx.cloud.compute.keyPairs.import(ctx.accountId, {
      name: params.string('KeyName'),
      material: params.string('PublicKeyMaterial'),
      tagSpecifications: params.tagSpecifications(),
      dryRun: dryRunCheck(ctx, params),
    });
    return {
      keyName: imported.row.name,
      keyFingerprint: imported.row.fingerprint,
      keyPairId: imported.row.id,
      tagSet: tagSet(imported.tags),
    };
  },
});

/** EC2 DescribeKeyPairs. */
export const describeKeyPairs = defineAction({
  name: 'DescribeKeyPairs',
  params: ['KeyName.N', 'KeyPairId.N', 'Filter.N', 'IncludePublicKey', 'DryRun'],
  async run(ctx, params) {
    const request = {
      names: params.list('KeyName'),
      ids: params.list('KeyPairId'),
      filters: params.filters(),
    };
    const includePublicKey = params.boolean('IncludePublicKey') === true;
    checkDryRun(ctx, params);
    const keyPairs = await ctx.cloud.compute.keyPairs.describe(ctx.accountId, request);
    return { keySet: keyPairs.map((k) => keyPairXml(k, includePublicKey)) };
  },
});

/** EC2 DeleteKeyPair. */
export const deleteKeyPair = defineAction({
  name: 'DeleteKeyPair',
  params: ['KeyName', 'KeyPairId', 'DryRun'],
  async run(ctx, params) {
    const id = await ctx.cloud.compute.keyPairs.delete(
      ctx.accountId,
      params.string('KeyName'),
      params.string('KeyPairId'),
      dryRunCheck(ctx, params),
    );
    return { return: true, keyPairId: id };
  },
});

/** Every key pair action, for the registry. */
export const keyPairActions = [createKeyPair, importKeyPair, describeKeyPairs, deleteKeyPair] as const;
