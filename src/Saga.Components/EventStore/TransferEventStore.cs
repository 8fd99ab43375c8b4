using JasperFx;
using JasperFx.Events;
using Marten;
using Saga.Components.Transfers;

namespace Saga.Components.EventStore;

/// <summary>
/// How transfers are kept in Marten: one event stream per transfer (stream id = transfer id), and
/// <see cref="TransferState"/> stored beside it as the queryable view, written in the same commit.
/// </summary>
public static class TransferEventStore
{
    public static readonly Type[] EventTypes =
    [
        typeof(HalfMessageStored), typeof(TransferCommitted), typeof(TransferRolledBack), typeof(CheckBackSent),
        typeof(CheckBackAnswered), typeof(CreditRequested), typeof(CreditConfirmed), typeof(CreditFailed),
        typeof(TransferNeedsAttention), typeof(CreditRetryRequested), typeof(RecheckRequested), typeof(RefundRequested),
        typeof(ResolveRequested), typeof(VoidRequested), typeof(CreditVoidConfirmed), typeof(CreditCopyRefused),
        typeof(TransferResolved), typeof(MessageIgnored), typeof(MessageRefused),
    ];

    public static void Configure(StoreOptions options, string connectionString, string schema = "saga")
    {
        options.Connection(connectionString);
        options.DatabaseSchemaName = schema;
        options.Events.DatabaseSchemaName = schema;
        options.AutoCreateSchemaObjects = AutoCreate.CreateOrUpdate;
        options.UseSystemTextJsonForSerialization();

        options.Events.StreamIdentity = StreamIdentity.AsGuid;
        // Quick append: versions are assigned in the database, measured here well ahead of Rich append.
        options.Events.AppendMode = EventAppendMode.Quick;
        foreach (var type in EventTypes)
        {
            options.Events.AddEventType(type);
        }

        var view = options.Schema.For<TransferState>();
        view.Identity(x => x.CorrelationId);
        view.DocumentAlias("transfer");
        view.Duplicate(x => x.CurrentState);
        view.Duplicate(x => x.UpdatedAt);
        // The check-back scan's query: partial, so finished transfers cost the index nothing.
        view.Duplicate(x => x.ScanDueAt!, configure: index => index.Predicate = "scan_due_at is not null");
    }
}
