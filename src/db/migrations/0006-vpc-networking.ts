// EC2's VPC model (cloud/vpc/): VPCs, subnets, route tables, internet gateways, network interfaces and the
// security groups (cloud/security-groups/) with their rules. The instances table is untouched: an instance's
// network is its primary network interface (device index 0), which names the instance.
import type { Kysely } from 'kysely';

/** Creates the networking tables. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- migrations must not depend on the evolving schema type
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('default_vpcs')
    .addColumn('account_id', 'text', (c) => c.primaryKey().references('accounts.id'))
    .addColumn('vpc_id', 'text')
    .execute();
  await db.schema
    .createTable('vpcs')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('account_id', 'text', (c) => c.notNull().references('accounts.id'))
    .addColumn('cidr_block', 'text', (c) => c.notNull())
    .addColumn('is_default', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('instance_tenancy', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('vpcs_account_id').on('vpcs').columns(['account_id', 'id']).execute();
  await db.schema
    .createTable('subnets')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('account_id', 'text', (c) => c.notNull().references('accounts.id'))
    .addColumn('vpc_id', 'text', (c) => c.notNull().references('vpcs.id'))
    .addColumn('cidr_block', 'text', (c) => c.notNull())
    .addColumn('availability_zone', 'text', (c) => c.notNull())
    .addColumn('default_for_az', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('map_public_ip_on_launch', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('created_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('subnets_vpc_id').on('subnets').columns(['vpc_id']).execute();
  await createRoutingTables(db);
  await createGroupTables(db);
  await createInterfaceTables(db);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- see up
async function createRoutingTables(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('internet_gateways')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('account_id', 'text', (c) => c.notNull().references('accounts.id'))
    .addColumn('vpc_id', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema
    .createTable('route_tables')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('account_id', 'text', (c) => c.notNull().references('accounts.id'))
    .addColumn('vpc_id', 'text', (c) => c.notNull().references('vpcs.id'))
    .addColumn('is_main', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('gateway_id', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .execute();
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- see up
async function createGroupTables(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('security_groups')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('account_id', 'text', (c) => c.notNull().references('accounts.id'))
    .addColumn('vpc_id', 'text', (c) => c.notNull().references('vpcs.id'))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('description', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addUniqueConstraint('security_groups_vpc_name', ['vpc_id', 'name'])
    .execute();
  await db.schema
    .createTable('security_group_rules')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('account_id', 'text', (c) => c.notNull())
    .addColumn('group_id', 'text', (c) => c.notNull().references('security_groups.id').onDelete('cascade'))
    .addColumn('is_egress', 'integer', (c) => c.notNull())
    .addColumn('ip_protocol', 'text', (c) => c.notNull())
    .addColumn('from_port', 'integer', (c) => c.notNull())
    .addColumn('to_port', 'integer', (c) => c.notNull())
    .addColumn('cidr_ipv4', 'text')
    .addColumn('referenced_group_id', 'text')
    .addColumn('description', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('created_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('security_group_rules_group')
    .on('security_group_rules')
    .columns(['group_id'])
    .execute();
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- see up
async function createInterfaceTables(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('network_interfaces')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('account_id', 'text', (c) => c.notNull().references('accounts.id'))
    .addColumn('vpc_id', 'text', (c) => c.notNull())
    .addColumn('subnet_id', 'text', (c) => c.notNull())
    .addColumn('availability_zone', 'text', (c) => c.notNull())
    .addColumn('instance_id', 'text')
    .addColumn('device_index', 'integer', (c) => c.notNull())
    .addColumn('attachment_id', 'text', (c) => c.notNull())
    .addColumn('private_ip', 'text', (c) => c.notNull())
    .addColumn('mac', 'text', (c) => c.notNull())
    .addColumn('associate_public_ip', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('description', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addUniqueConstraint('network_interfaces_vpc_ip', ['vpc_id', 'private_ip'])
    .execute();
  await db.schema
    .createIndex('network_interfaces_instance')
    .on('network_interfaces')
    .columns(['instance_id'])
    .execute();
  await db.schema
    .createTable('network_interface_groups')
    .addColumn('interface_id', 'text', (c) =>
      c.notNull().references('network_interfaces.id').onDelete('cascade'),
    )
    .addColumn('group_id', 'text', (c) => c.notNull())
    .addColumn('position', 'integer', (c) => c.notNull())
    .addPrimaryKeyConstraint('network_interface_groups_pk', ['interface_id', 'group_id'])
    .execute();
  await db.schema
    .createIndex('network_interface_groups_group')
    .on('network_interface_groups')
    .columns(['group_id'])
    .execute();
}

/** Drops what `up` made. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- see up
export async function down(db: Kysely<any>): Promise<void> {
  for (const table of [
    'network_interface_groups',
    'network_interfaces',
    'security_group_rules',
    'security_groups',
    'route_tables',
    'internet_gateways',
    'subnets',
    'vpcs',
    'default_vpcs',
  ]) {
    await db.schema.dropTable(table).execute();
  }
}
