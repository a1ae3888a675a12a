// Writing security groups and their rules: shared by the group service and by VPC creation, which makes each
// VPC's `default` group. Imports nothing of cloud/vpc/, so both may use it.
import type { Kysely, Selectable, Transaction } from 'kysely';
import { newId } from '../../base/ids.ts';
import type { Database } from '../../db/schema.ts';
import type { SecurityGroupRulesTable, SecurityGroupsTable } from '../../db/tables/vpc-networking.ts';

/** A security group row as read. */
export type SecurityGroupRow = Selectable<SecurityGroupsTable>;
/** A rule row as read. */
export type RuleRow = Selectable<SecurityGroupRulesTable>;

/** A database or a transaction. */
export type Db = Kysely<Database> | Transaction<Database>;

/** What a new rule row needs. */
export interface NewRule {
  readonly ipProtocol: string;
  readonly fromPort: number;
  readonly toPort: number;
  readonly cidrIpv4: string | null;
  readonly referencedGroupId: string | null;
  readonly description: string;
}

/** Inserts rules of `groupId` (ingress or egress) with fresh sgr- ids; returns the rows. */
export async function insertRules(
  db: Db,
  accountId: string,
  groupId: string,
  egress: boolean,
  rules: readonly NewRule[],
  now: string,
): Promise<RuleRow[]> {
  const rows: RuleRow[] = rules.map((rule) => ({
    id: newId('sgr'),
    account_id: accountId,
    group_id: groupId,
    is_egress: egress ? 1 : 0,
    ip_protocol: rule.ipProtocol,
    from_port: rule.fromPort,
    to_port: rule.toPort,
    cidr_ipv4: rule.cidrIpv4,
    referenced_group_id: rule.referencedGroupId,
    description: rule.description,
    created_at: now,
  }));
  if (rows.length > 0) await db.insertInto('security_group_rules').values(rows).execute();
  return rows;
}

/** The all-traffic egress rule EC2 gives every new VPC security group. */
export const allEgress: NewRule = {
  ipProtocol: '-1',
  fromPort: -1,
  toPort: -1,
  cidrIpv4: '0.0.0.0/0',
  referencedGroupId: null,
  description: '',
};

/** Inserts a group with EC2's default egress rule; returns its row. */
export async function insertGroup(
  db: Db,
  accountId: string,
  vpcId: string,
  name: string,
  description: string,
  now: string,
): Promise<SecurityGroupRow> {
  const row: SecurityGroupRow = {
    id: newId('sg'),
    account_id: accountId,
    vpc_id: vpcId,
    name,
    description,
    created_at: now,
  };
  await db.insertInto('security_groups').values(row).execute();
  await insertRules(db, accountId, row.id, true, [allEgress], now);
  return row;
}

/** A VPC's `default` group: members reach each other on everything, and anything goes out. */
export async function insertDefaultGroup(
  db: Db,
  accountId: string,
  vpcId: string,
  now: string,
): Promise<SecurityGroupRow> {
  const row = await insertGroup(db, accountId, vpcId, 'default', 'default VPC security group', now);
  const self: NewRule = { ...allEgress, cidrIpv4: null, referencedGroupId: row.id };
  await insertRules(db, accountId, row.id, false, [self], now);
  return row;
}
