using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using RabbitMQ.Client.Exceptions;
using Saga.Components.Hosting;

namespace Saga.Components.Tests.Hosting;

/// <summary>
/// A send the broker never confirms (the RabbitMQ client's hang after a broker restart) is found, and only such a one;
/// so is a destination the broker has refused every send to for too long (RabbitMQ 3.10's nacks after a node is lost).
/// </summary>
public sealed class StuckSendWatchdog_Specs
{
    private readonly FakeTimeProvider _clock = new();
    private readonly StuckSendWatchdog _watchdog;

    public StuckSendWatchdog_Specs() =>
        _watchdog = new StuckSendWatchdog(Options.Create(new ConsumerWatchdogOptions { SendStuckAfter = TimeSpan.FromSeconds(30), SendRejectedFor = TimeSpan.FromSeconds(20) }), _clock,
            NullLogger<StuckSendWatchdog>.Instance);

    [Fact]
    public async Task A_send_still_waiting_for_its_confirm_past_the_limit_is_stuck_and_names_its_destination()
    {
        var ledgerA = new Uri("queue:ledger-a");
        await _watchdog.Started(new object(), ledgerA);
        _clock.Advance(TimeSpan.FromSeconds(29));
        await _watchdog.Started(new object(), new Uri("queue:ledger-b"));
        Assert.Null(_watchdog.Stuck());

        _clock.Advance(TimeSpan.FromSeconds(1));

        Assert.Equal((TimeSpan.FromSeconds(30), ledgerA), _watchdog.Stuck());
    }

    [Fact]
    public async Task Sends_that_ended_confirmed_or_faulted_are_never_stuck()
    {
        var (confirmed, faulted) = (new object(), new object());
        await _watchdog.Started(confirmed, new Uri("queue:ledger-a"));
        await _watchdog.Started(faulted, new Uri("queue:ledger-b"));
        await _watchdog.Ended(confirmed);
        await _watchdog.Ended(faulted);

        _clock.Advance(TimeSpan.FromMinutes(10));

        Assert.Null(_watchdog.Stuck());
    }

    private static Exception Nack() => new InvalidOperationException("BasicPublishAsync failed", new PublishException(1, isReturn: false));

    [Fact]
    public async Task A_destination_the_broker_has_refused_every_send_to_past_the_limit_is_named()
    {
        var halfMessages = new Uri("exchange:half-messages");
        await _watchdog.Faulted(new object(), halfMessages, Nack());
        _clock.Advance(TimeSpan.FromSeconds(10));
        await _watchdog.Faulted(new object(), halfMessages, Nack());
        _clock.Advance(TimeSpan.FromSeconds(9));
        Assert.Null(_watchdog.Refused());

        _clock.Advance(TimeSpan.FromSeconds(1));

        Assert.Equal((TimeSpan.FromSeconds(20), halfMessages), _watchdog.Refused());
    }

    [Fact]
    public async Task A_confirmed_send_ends_the_refusal_and_other_failures_never_count()
    {
        var (halfMessages, transfers) = (new Uri("exchange:half-messages"), new Uri("exchange:transfers"));
        await _watchdog.Faulted(new object(), halfMessages, Nack());
        _clock.Advance(TimeSpan.FromSeconds(15));
        await _watchdog.Confirmed(new object(), halfMessages);
        await _watchdog.Faulted(new object(), transfers, new PublishException(2, isReturn: true));
        await _watchdog.Faulted(new object(), transfers, new TimeoutException());

        _clock.Advance(TimeSpan.FromMinutes(10));

        Assert.Null(_watchdog.Refused());
    }
}
