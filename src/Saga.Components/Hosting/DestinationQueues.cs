using System.Collections.Concurrent;
using MassTransit;
using RabbitMQ.Client;
using Saga.Contracts;

namespace Saga.Components.Hosting;

/// <summary>
/// Every send of a bus goes through here. A send to one of the system's queues (<see cref="Queues"/>, whose
/// addresses are exchanges) first declares that queue, once per process, with <see cref="RabbitMqOptions.QueueArguments"/>,
/// and binds it to its exchange: what MassTransit's "queue:" address did, but with the arguments a quorum queue
/// needs, so a message sent before its consumer first starts waits in the queue as it always did. The ledger's
/// own queue is the reason the sender binds: the ledger may not (<see cref="Ledgers.LedgerQueueDeclaration"/>).
/// And every send but a response is mandatory: a message no queue takes (a queue deleted under a running host, an
/// address outside <see cref="Queues"/>) comes back as MassTransit's MessageReturnedException, for the sender's
/// retry, instead of vanishing. A response goes to its requester's temporary endpoint, gone with the requester,
/// who no longer waits for it.
/// </summary>
public sealed class DestinationQueues(RabbitMqOptions options) : IFilter<SendContext>, ISendObserver
{
    private readonly ConcurrentDictionary<string, Lazy<Task>> _declared = new();

    public async Task Send(SendContext context, IPipe<SendContext> next)
    {
        if (context.TryGetPayload(out RabbitMqSendContext? rabbit) && !IsTemporary(context.DestinationAddress))
        {
            rabbit.Mandatory = true;
            if (Queues.IsEndpoint(rabbit.Exchange))
            {
                await Declare(rabbit.Exchange).WaitAsync(context.CancellationToken).ConfigureAwait(false);
            }
        }
        await next.Send(context).ConfigureAwait(false);
    }

    public void Probe(ProbeContext context) => context.CreateFilterScope("destinationQueues");

    /// <summary>Everything <paramref name="bus"/> sends goes through <paramref name="queues"/>.</summary>
    public static void Everything(IBusFactoryConfigurator bus, DestinationQueues queues)
    {
        bus.ConfigureSend(s => s.UseFilter(queues));
        bus.ConnectSendObserver(queues);
    }

    private async Task Declare(string queue)
    {
        var declaring = _declared.GetOrAdd(queue, q => new Lazy<Task>(() => DeclareAndBind(q)));
        try
        {
            await declaring.Value.ConfigureAwait(false);
        }
        catch
        {
            _declared.TryRemove(KeyValuePair.Create(queue, declaring));
            throw;
        }
    }

    private async Task DeclareAndBind(string queue)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await using var connection = await options.Connect($"declare {queue}", timeout.Token, automaticRecovery: false).ConfigureAwait(false);
        await using var channel = await connection.CreateChannelAsync(cancellationToken: timeout.Token).ConfigureAwait(false);
        await channel.QueueDeclareAsync(queue, durable: true, exclusive: false, autoDelete: false, options.QueueArguments(), cancellationToken: timeout.Token)
            .ConfigureAwait(false);
        // As MassTransit declares an endpoint's exchange, so that its own declarations agree.
        await channel.ExchangeDeclareAsync(queue, ExchangeType.Fanout, durable: true, autoDelete: false, cancellationToken: timeout.Token).ConfigureAwait(false);
        await channel.QueueBindAsync(queue, queue, "", cancellationToken: timeout.Token).ConfigureAwait(false);
    }

    private static bool IsTemporary(Uri? address) => address?.Query.Contains("temporary=true", StringComparison.OrdinalIgnoreCase) == true;

    /// <summary>A returned message: its queue is declared again before the next send to it.</summary>
    public Task SendFault<T>(SendContext<T> context, Exception exception)
        where T : class
    {
        if (exception is MessageReturnedException && context.TryGetPayload(out RabbitMqSendContext? rabbit))
        {
            _declared.TryRemove(rabbit.Exchange, out _);
        }
        return Task.CompletedTask;
    }

    public Task PreSend<T>(SendContext<T> context)
        where T : class => Task.CompletedTask;

    public Task PostSend<T>(SendContext<T> context)
        where T : class => Task.CompletedTask;
}
