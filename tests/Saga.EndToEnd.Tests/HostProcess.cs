using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Reflection;

namespace Saga.EndToEnd.Tests;

/// <summary>One deployable host started as its own process, as it runs in production; killed with SIGKILL.</summary>
public sealed class HostProcess(string name, string project, IReadOnlyDictionary<string, string> environment) : IAsyncDisposable
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(2) };
    private Process? _process;

    public string Name => name;
    public int Port { get; } = FreePort();
    public string LogFile { get; } = Path.Combine(Path.GetTempPath(), "saga-e2e", $"{name}-{Guid.NewGuid():N}.log");

    public async Task Start()
    {
        var info = new ProcessStartInfo("dotnet", Binary(project)) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var (key, value) in environment)
        {
            info.Environment[key] = value;
        }
        info.Environment["Urls"] = $"http://127.0.0.1:{Port}";
        info.Environment["DOTNET_ENVIRONMENT"] = "Development";
        Directory.CreateDirectory(Path.GetDirectoryName(LogFile)!);
        var log = new StreamWriter(LogFile, append: true) { AutoFlush = true };
        _process = Process.Start(info)!;
        _process.OutputDataReceived += (_, e) => { if (e.Data is not null) { lock (log) { log.WriteLine(e.Data); } } };
        _process.ErrorDataReceived += (_, e) => { if (e.Data is not null) { lock (log) { log.WriteLine(e.Data); } } };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();

        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (DateTime.UtcNow < deadline)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"{name} exited with {_process.ExitCode}; see {LogFile}");
            }
            try
            {
                if ((await Http.GetAsync($"http://127.0.0.1:{Port}/health/ready")).StatusCode == HttpStatusCode.OK)
                {
                    return;
                }
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
            }
            await Task.Delay(100);
        }
        throw new TimeoutException($"{name} did not become ready; see {LogFile}");
    }

    /// <summary>kill -9: no graceful shutdown, no chance to finish what it was doing.</summary>
    public void Kill()
    {
        if (_process is { HasExited: false })
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit();
        }
    }

    public ValueTask DisposeAsync()
    {
        Kill();
        _process?.Dispose();
        return ValueTask.CompletedTask;
    }

    private static string Binary(string project)
    {
        // tests/Saga.EndToEnd.Tests/bin/<Configuration>/net10.0 → src/<project>/bin/<Configuration>/net10.0/<project>.dll
        var configuration = typeof(HostProcess).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()!.Configuration;
        var root = Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", ".."));
        var path = Path.Combine(root, "src", project, "bin", configuration, "net10.0", project + ".dll");
        return File.Exists(path) ? path : throw new FileNotFoundException($"{project} is not built at {path}");
    }

    private static int FreePort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }
}
