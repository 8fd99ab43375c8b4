using MassTransit;
using Saga.Components.Security;
using Saga.Contracts;

namespace Saga.Components.Transfers;

/// <summary>
/// Who may tell a transfer what, checked on the transfer itself before the state machine sees the message:
/// its commit, rollback and check-back answers only from its source ledger; a credit's confirmation, void
/// or fault only from the ledger credited; a check-back only from the coordinator. Broker permissions let
/// every ledger write to the coordinator's queue, so without this ledger B could commit a transfer out of
/// A that A never debited, and be credited for it. A refused message is recorded on the stream
/// (<see cref="MessageRefused"/>) and changes nothing: the check-back or the credit's resend still asks
/// the right ledger. Half messages and repairs arrive on queues only the Api may write to.
/// </summary>
public sealed class TransferSenders(SenderOptions senders, TimeProvider clock) : IFilter<SagaConsumeContext<TransferState>>
{
    public Task Send(SagaConsumeContext<TransferState> context, IPipe<SagaConsumeContext<TransferState>> next)
    {
        var sentBy = SentBy.Of(context.ReceiveContext);
        var (message, expected) = sentBy is null ? default : Expected(context);
        if (expected is null || sentBy!.User == expected)
        {
            return next.Send(context);
        }
        context.Saga.Record(new MessageRefused(message!, sentBy.ToString(), $"only {expected} may send it for this transfer", clock.GetUtcNow()));
        return Task.CompletedTask;
    }

    public void Probe(ProbeContext context) => context.CreateFilterScope("transferSenders");

    /// <summary>The message's name and the broker user that alone may send it for this transfer (null when the queue's permissions decide).</summary>
    private (string? Message, string? Sender) Expected(SagaConsumeContext<TransferState> context)
    {
        var s = context.Saga;
        string Ledger(CreditPurpose purpose) => senders.LedgerUser(purpose == CreditPurpose.Refund ? s.FromLedger : s.ToLedger);
        return context switch
        {
            _ when context.TryGetMessage<CommitTransfer>(out _) => (nameof(CommitTransfer), senders.LedgerUser(s.FromLedger)),
            _ when context.TryGetMessage<RollbackTransfer>(out _) => (nameof(RollbackTransfer), senders.LedgerUser(s.FromLedger)),
            _ when context.TryGetMessage<LocalTransactionChecked>(out _) => (nameof(LocalTransactionChecked), senders.LedgerUser(s.FromLedger)),
            _ when context.TryGetMessage<AccountCredited>(out var credited) => (nameof(AccountCredited), Ledger(credited.Message.Purpose)),
            _ when context.TryGetMessage<Fault<CreditAccount>>(out var fault) => ("Fault<CreditAccount>", Ledger(fault.Message.Message.Purpose)),
            _ when context.TryGetMessage<CreditVoided>(out _) => (nameof(CreditVoided), senders.LedgerUser(s.ToLedger)),
            _ when context.TryGetMessage<CheckBackDue>(out _) => (nameof(CheckBackDue), senders.Coordinator),
            _ => default,
        };
    }
}
