using Npgsql;

namespace Saga.Components.Scheduling;

/// <summary>
/// The tables Quartz 4.7's ADO job store reads and writes, in a schema of their own. Created only
/// where missing, never altered or dropped, so every node runs this at every start; Quartz then
/// validates the result (<c>SchemaProvisioning.Validate</c>). The optional execution-history tables
/// are left out: that feature stays off.
/// </summary>
internal static class SchedulerSchema
{
    public static async Task Ensure(string connectionString, string schema, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        // "create … if not exists" is not safe against a concurrent create: nodes starting together take turns.
        await using (var turn = new NpgsqlCommand("select pg_advisory_xact_lock(hashtext('saga-scheduler-schema:' || $1))", connection, transaction))
        {
            turn.Parameters.Add(new NpgsqlParameter { Value = schema });
            await turn.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
        await using (var create = new NpgsqlCommand(Ddl(schema), connection, transaction))
        {
            await create.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
    }

    // Times are epoch ticks (bigint), as Quartz writes them. Child trigger rows go with their trigger.
    internal static string Ddl(string s) => $"""
        do $$ begin if not exists (select from pg_namespace where nspname = '{s}') then create schema {s}; end if; end $$;

        create table if not exists {s}.qrtz_job_details (
            sched_name text not null, job_name text not null, job_group text not null,
            description text, job_class_name text not null,
            is_durable bool not null, is_nonconcurrent bool not null, is_update_data bool not null, requests_recovery bool not null,
            job_data bytea,
            primary key (sched_name, job_name, job_group));

        create table if not exists {s}.qrtz_triggers (
            sched_name text not null, trigger_name text not null, trigger_group text not null,
            job_name text not null, job_group text not null, description text,
            next_fire_time bigint, prev_fire_time bigint, priority integer,
            trigger_state text not null, trigger_type text not null,
            start_time bigint not null, end_time bigint, calendar_name text,
            misfire_instr smallint, misfire_orig_fire_time bigint, misfire_threshold bigint,
            execution_group varchar(200), preferred_node varchar(200), preferred_node_auto bool not null default false,
            retry_policy varchar(250), retry_attempt integer,
            continues_trigger_name text, continues_trigger_group text, continuation_condition integer,
            overlap_policy integer, fixed_delay bool,
            pause_reason varchar(250), paused_by varchar(200), paused_at bigint,
            job_data bytea,
            primary key (sched_name, trigger_name, trigger_group),
            foreign key (sched_name, job_name, job_group) references {s}.qrtz_job_details (sched_name, job_name, job_group));

        create table if not exists {s}.qrtz_simple_triggers (
            sched_name text not null, trigger_name text not null, trigger_group text not null,
            repeat_count bigint not null, repeat_interval bigint not null, times_triggered bigint not null,
            primary key (sched_name, trigger_name, trigger_group),
            foreign key (sched_name, trigger_name, trigger_group) references {s}.qrtz_triggers on delete cascade);

        create table if not exists {s}.qrtz_cron_triggers (
            sched_name text not null, trigger_name text not null, trigger_group text not null,
            cron_expression text not null, time_zone_id text,
            primary key (sched_name, trigger_name, trigger_group),
            foreign key (sched_name, trigger_name, trigger_group) references {s}.qrtz_triggers on delete cascade);

        create table if not exists {s}.qrtz_simprop_triggers (
            sched_name text not null, trigger_name text not null, trigger_group text not null,
            str_prop_1 text, str_prop_2 text, str_prop_3 text,
            int_prop_1 integer, int_prop_2 integer, long_prop_1 bigint, long_prop_2 bigint,
            dec_prop_1 numeric, dec_prop_2 numeric, bool_prop_1 bool, bool_prop_2 bool,
            time_zone_id text,
            primary key (sched_name, trigger_name, trigger_group),
            foreign key (sched_name, trigger_name, trigger_group) references {s}.qrtz_triggers on delete cascade);

        create table if not exists {s}.qrtz_blob_triggers (
            sched_name text not null, trigger_name text not null, trigger_group text not null,
            blob_data bytea,
            primary key (sched_name, trigger_name, trigger_group),
            foreign key (sched_name, trigger_name, trigger_group) references {s}.qrtz_triggers on delete cascade);

        create table if not exists {s}.qrtz_calendars (
            sched_name text not null, calendar_name text not null, calendar bytea not null,
            primary key (sched_name, calendar_name));

        create table if not exists {s}.qrtz_paused_trigger_grps (
            sched_name text not null, trigger_group text not null,
            pause_reason varchar(250), paused_by varchar(200), paused_at bigint,
            primary key (sched_name, trigger_group));

        create table if not exists {s}.qrtz_paused_job_grps (
            sched_name text not null, job_group text not null,
            pause_reason varchar(250), paused_by varchar(200), paused_at bigint,
            primary key (sched_name, job_group));

        create table if not exists {s}.qrtz_fired_triggers (
            sched_name text not null, entry_id text not null,
            trigger_name text not null, trigger_group text not null, instance_name text not null,
            fired_time bigint not null, sched_time bigint not null, priority integer not null, state text not null,
            job_name text, job_group text, is_nonconcurrent bool not null, requests_recovery bool,
            execution_group varchar(200), progress integer, progress_message varchar(250), interrupt_requested_time bigint,
            primary key (sched_name, entry_id));

        create table if not exists {s}.qrtz_scheduler_state (
            sched_name text not null, instance_name text not null,
            last_checkin_time bigint not null, checkin_interval bigint not null, quartz_version varchar(20),
            primary key (sched_name, instance_name));

        create table if not exists {s}.qrtz_locks (
            sched_name text not null, lock_name text not null,
            primary key (sched_name, lock_name));

        -- What acquisition, misfire scans and recovery look up.
        create index if not exists qrtz_triggers_due on {s}.qrtz_triggers (sched_name, trigger_state, next_fire_time, priority desc, misfire_instr);
        create index if not exists qrtz_triggers_job on {s}.qrtz_triggers (sched_name, job_name, job_group);
        create index if not exists qrtz_triggers_group on {s}.qrtz_triggers (sched_name, trigger_group, trigger_name);
        create index if not exists qrtz_triggers_calendar on {s}.qrtz_triggers (sched_name, calendar_name);
        create index if not exists qrtz_job_details_group on {s}.qrtz_job_details (sched_name, job_group, job_name);
        create index if not exists qrtz_fired_triggers_instance on {s}.qrtz_fired_triggers (sched_name, instance_name, requests_recovery);
        create index if not exists qrtz_fired_triggers_job on {s}.qrtz_fired_triggers (sched_name, job_name, job_group);
        create index if not exists qrtz_fired_triggers_trigger on {s}.qrtz_fired_triggers (sched_name, trigger_name, trigger_group);
        """;
}
