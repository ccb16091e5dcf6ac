using System.Text;

namespace Tandem.Node.Tests.Support;

/// <summary>A StringWriter that a running `serve` writes to while the test reads it.</summary>
public sealed class LockedStringWriter : TextWriter
{
    private readonly StringBuilder _text = new();

    public override Encoding Encoding => Encoding.UTF8;

    public override void Write(char value)
    {
        lock (_text) _text.Append(value);
    }

    public override void Write(string? value)
    {
        lock (_text) _text.Append(value);
    }

    public override void Write(char[] buffer, int index, int count)
    {
        lock (_text) _text.Append(buffer, index, count);
    }

    public override string ToString()
    {
        lock (_text) return _text.ToString();
    }

    /// <summary>Waits until the text contains <paramref name="fragment"/>, or fails after the timeout.</summary>
    public async Task WaitForAsync(string fragment, Task running, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!ToString().Contains(fragment, StringComparison.Ordinal))
        {
            if (running.IsCompleted)
                throw new Xunit.Sdk.XunitException($"the command ended (exit {await (Task<int>)running}) before printing '{fragment}': {this}");
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"'{fragment}' did not appear within {timeout}: {this}");
            await Task.Delay(50);
        }
    }
}
