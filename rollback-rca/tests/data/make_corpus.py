#!/usr/bin/env python3
"""Writes the small labelled corpus in the Loghub layout used by tests/loghub_eval.rs.

Deterministic (fixed seed). Each dataset: <Name>/<Name>_2k.log, <Name>/<Name>_2k.log_structured.csv
(EventId = ground truth) and settings/<Name>.toml. `Tiny` is written by hand (see its comments in
tests/loghub_eval.rs, where its accuracies are worked out).
"""
import csv, os, random

HERE = os.path.dirname(os.path.abspath(__file__))
rng = random.Random(7)

def ip(): return f"{rng.randint(10,223)}.{rng.randint(0,255)}.{rng.randint(0,255)}.{rng.randint(1,254)}"
def blk(): return f"blk_{rng.choice(['', '-'])}{rng.randint(10**17, 10**19)}"
USERS = ["root", "admin", "oracle", "test", "guest", "webmaster", "ubuntu", "git", "postgres", "nagios"]

def write(name, fmt, masks, st, depth, header, columns, rows):
    d = os.path.join(HERE, "loghub", name)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, f"{name}_2k.log"), "w") as f:
        for r in rows:
            f.write(header(r) + r["Content"] + "\n")
    with open(os.path.join(d, f"{name}_2k.log_structured.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["LineId"] + columns + ["Content", "EventId", "EventTemplate"])
        for i, r in enumerate(rows, 1):
            w.writerow([i] + [r[c] for c in columns] + [r["Content"], r["EventId"], r["EventTemplate"]])
    os.makedirs(os.path.join(HERE, "settings"), exist_ok=True)
    with open(os.path.join(HERE, "settings", f"{name}.toml"), "w") as f:
        f.write(f"log_format = '{fmt}'\n")
        f.write("masks = [" + ", ".join(f"'{m}'" for m in masks) + "]\n")
        f.write(f"similarity = {st}\ndepth = {depth}\n")

def sshd():
    ev = [
        ("E1", "Accepted password for <*> from <*> port <*> ssh2", lambda: f"Accepted password for {rng.choice(USERS)} from {ip()} port {rng.randint(1024,65535)} ssh2"),
        ("E2", "Failed password for <*> from <*> port <*> ssh2", lambda: f"Failed password for {rng.choice(USERS)} from {ip()} port {rng.randint(1024,65535)} ssh2"),
        ("E3", "Failed password for invalid user <*> from <*> port <*> ssh2", lambda: f"Failed password for invalid user {rng.choice(USERS)} from {ip()} port {rng.randint(1024,65535)} ssh2"),
        ("E4", "Invalid user <*> from <*>", lambda: f"Invalid user {rng.choice(USERS)} from {ip()}"),
        ("E5", "Connection closed by <*> [preauth]", lambda: f"Connection closed by {ip()} [preauth]"),
        ("E6", "Received disconnect from <*>: 11: Bye Bye [preauth]", lambda: f"Received disconnect from {ip()}: 11: Bye Bye [preauth]"),
        ("E7", "pam_unix(sshd:session): session opened for user <*> by (uid=<*>)", lambda: f"pam_unix(sshd:session): session opened for user {rng.choice(USERS)} by (uid=0)"),
        ("E8", "pam_unix(sshd:session): session closed for user <*>", lambda: f"pam_unix(sshd:session): session closed for user {rng.choice(USERS)}"),
        ("E9", "Did not receive identification string from <*>", lambda: f"Did not receive identification string from {ip()}"),
        ("E10", "reverse mapping checking getaddrinfo for <*> [<*>] failed - POSSIBLE BREAK-IN ATTEMPT!", lambda: f"reverse mapping checking getaddrinfo for {rng.choice(['host-','ns','mail.'])}{rng.randint(1,99)}.example.{rng.choice(['com','net','org'])} [{ip()}] failed - POSSIBLE BREAK-IN ATTEMPT!"),
        ("E11", "Server listening on <*> port <*>.", lambda: f"Server listening on {rng.choice(['0.0.0.0', '::'])} port 22."),
        ("E12", "Connection reset by peer", lambda: "Connection reset by peer"),
        ("E13", "Timeout, client not responding.", lambda: "Timeout, client not responding."),
    ]
    rows = []
    for _ in range(120):
        eid, tpl, gen = rng.choice(ev)
        rows.append({"Date": "Dec", "Day": str(rng.randint(10, 12)), "Time": f"{rng.randint(0,23):02}:{rng.randint(0,59):02}:{rng.randint(0,59):02}",
                     "Component": "LabSZ", "Pid": str(rng.randint(1000, 30000)), "Content": gen(), "EventId": eid, "EventTemplate": tpl})
    write("Sshd", r"<Date> <Day> <Time> <Component> sshd\[<Pid>\]: <Content>", [r"(\d+\.){3}\d+"], 0.6, 5,
          lambda r: f"{r['Date']} {r['Day']} {r['Time']} {r['Component']} sshd[{r['Pid']}]: ", ["Date", "Day", "Time", "Component", "Pid"], rows)

def dfs():
    def blocks(): return "[" + ", ".join(blk() for _ in range(rng.randint(1, 5))) + "]"
    ev = [
        ("E1", "Receiving block <*> src: <*> dest: <*>", lambda: f"Receiving block {blk()} src: /{ip()}:{rng.randint(30000,60000)} dest: /{ip()}:50010"),
        ("E2", "Received block <*> of size <*> from <*>", lambda: f"Received block {blk()} of size {rng.randint(1000,67108864)} from /{ip()}"),
        ("E3", "PacketResponder <*> for block <*> terminating", lambda: f"PacketResponder {rng.randint(0,2)} for block {blk()} terminating"),
        ("E4", "BLOCK* NameSystem.addStoredBlock: blockMap updated: <*> is added to <*> size <*>", lambda: f"BLOCK* NameSystem.addStoredBlock: blockMap updated: {ip()}:50010 is added to {blk()} size {rng.randint(1000,67108864)}"),
        ("E5", "BLOCK* NameSystem.delete: <*> is added to invalidSet of <*>", lambda: f"BLOCK* NameSystem.delete: {blk()} is added to invalidSet of {ip()}:50010"),
        ("E6", "BLOCK* ask <*> to delete <*>", lambda: f"BLOCK* ask {ip()}:50010 to delete {' '.join(blk() for _ in range(rng.randint(1, 6)))}"),
        ("E7", "Deleting block <*> file <*>", lambda: f"Deleting block {blk()} file /mnt/hadoop/dfs/data/current/subdir{rng.randint(0,63)}/{blk()}"),
        ("E8", "Removing blocks <*> from neededReplications", lambda: f"Removing blocks {blocks()} from neededReplications"),
        ("E9", "Verification succeeded for <*>", lambda: f"Verification succeeded for {blk()}"),
        ("E10", "Served block <*> to <*>", lambda: f"{ip()}:50010:Served block {blk()} to /{ip()}"),
        ("E11", "Starting thread to transfer block <*> to <*>", lambda: f"{ip()}:50010 Starting thread to transfer block {blk()} to {' '.join(ip() + ':50010' for _ in range(rng.randint(1,3)))}"),
        ("E12", "Shutting down", lambda: "Shutting down"),
        ("E13", "Shutting down datanode", lambda: "Shutting down datanode"),
    ]
    rows = []
    for _ in range(120):
        eid, tpl, gen = rng.choice(ev)
        rows.append({"Date": "081109", "Time": f"{rng.randint(200000,235959)}", "Pid": str(rng.randint(1, 40000)), "Level": rng.choice(["INFO", "WARN"]),
                     "Component": rng.choice(["dfs.DataNode", "dfs.FSNamesystem", "dfs.DataNode$PacketResponder"]), "Content": gen(), "EventId": eid, "EventTemplate": tpl})
    write("Dfs", r"<Date> <Time> <Pid> <Level> <Component>: <Content>", [r"blk_-?\d+", r"(\d+\.){3}\d+(:\d+)?"], 0.5, 4,
          lambda r: f"{r['Date']} {r['Time']} {r['Pid']} {r['Level']} {r['Component']}: ", ["Date", "Time", "Pid", "Level", "Component"], rows)

def web():
    workers = ["mod_jk child workerEnv in error state", "mod_jk child init"]
    ev = [
        ("E1", "jk2_init() Found child <*> in scoreboard slot <*>", lambda: f"jk2_init() Found child {rng.randint(1000,9999)} in scoreboard slot {rng.randint(6,10)}"),
        ("E2", "workerEnv.init() ok <*>", lambda: "workerEnv.init() ok /etc/httpd/conf/workers2.properties"),
        ("E3", "mod_jk child workerEnv in error state <*>", lambda: f"mod_jk child workerEnv in error state {rng.randint(6,9)}"),
        ("E4", "[client <*>] Directory index forbidden by rule: <*>", lambda: f"[client {ip()}] Directory index forbidden by rule: /var/www/html/"),
        ("E5", "jk2_init() Can't find child <*> in scoreboard", lambda: f"jk2_init() Can't find child {rng.randint(1000,9999)} in scoreboard"),
        ("E6", "mod_jk child init <*> <*>", lambda: f"mod_jk child init {rng.randint(1,3)} -{rng.randint(1,3)}"),
        ("E7", "caught SIGTERM, shutting down", lambda: "caught SIGTERM, shutting down"),
        ("E8", "Digest: done", lambda: "Digest: done"),
        ("E9", "Digest: generating secret for digest authentication ...", lambda: "Digest: generating secret for digest authentication ..."),
        ("E10", "Apache configured -- resuming normal operations", lambda: "Apache configured -- resuming normal operations"),
        ("E11", "[client <*>] File does not exist: <*>", lambda: f"[client {ip()}] File does not exist: /var/www/html/{rng.choice(['scripts', 'cgi-bin/awstats.pl', 'MSADC/root.exe', 'c/winnt/system32/cmd.exe'])}"),
        ("E12", "Restart", lambda: "Restart"),
        ("E13", "Shutdown", lambda: "Shutdown"),
    ]
    rows = []
    for _ in range(100):
        eid, tpl, gen = rng.choice(ev)
        rows.append({"Time": f"Sun Dec 04 {rng.randint(4,20):02}:{rng.randint(0,59):02}:{rng.randint(0,59):02} 2005", "Level": rng.choice(["notice", "error"]),
                     "Content": gen(), "EventId": eid, "EventTemplate": tpl})
    write("Web", r"\[<Time>\] \[<Level>\] <Content>", [r"(\d+\.){3}\d+"], 0.5, 4,
          lambda r: f"[{r['Time']}] [{r['Level']}] ", ["Time", "Level"], rows)

def syslog():
    hosts = ["lns-vlq-45-tou-82-252-162-81.adsl.proxad.net", "", "dsl-189-130-178-214.prod-infinitum.com.mx", "p5086f3de.dip.t-dialin.net"]
    def when(): return f"Sun Jul {rng.randint(10,17)} {rng.randint(0,23):02}:{rng.randint(0,59):02}:{rng.randint(0,59):02} 2005"
    ev = [
        ("E1", "session opened for user <*> by (uid=<*>)", lambda: f"session opened for user {rng.choice(['root', 'cyrus', 'news'])} by (uid={rng.choice([0, 501])})"),
        ("E2", "session closed for user <*>", lambda: f"session closed for user {rng.choice(['root', 'cyrus', 'news'])}"),
        ("E3", "authentication failure; logname= uid=<*> euid=<*> tty=NODEVssh ruser= rhost=<*>", lambda: f"authentication failure; logname= uid=0 euid=0 tty=NODEVssh ruser= rhost={ip()}"),
        ("E4", "authentication failure; logname= uid=<*> euid=<*> tty=NODEVssh ruser= rhost=<*> user=<*>", lambda: f"authentication failure; logname= uid=0 euid=0 tty=NODEVssh ruser= rhost={ip()}  user={rng.choice(USERS)}"),
        ("E5", "check pass; user unknown", lambda: "check pass; user unknown"),
        ("E6", "connection from <*> (<*>) at <*>", lambda: f"connection from {ip()} ({rng.choice(hosts)}) at {when()}"),
        ("E7", "ALERT exited abnormally with [<*>]", lambda: f"ALERT exited abnormally with [{rng.choice([1, 2])}]"),
        ("E8", "Kerberos authentication failed", lambda: "Kerberos authentication failed"),
        ("E9", "<*> startup succeeded", lambda: f"{rng.choice(['syslogd', 'klogd', 'irqbalance', 'portmap', 'sshd', 'crond', 'xinetd'])} startup succeeded"),
        ("E10", "<*> shutdown succeeded", lambda: f"{rng.choice(['syslogd', 'klogd', 'irqbalance', 'portmap', 'sshd', 'crond', 'xinetd'])} shutdown succeeded"),
        ("E11", "Received SNMP packet(s) from <*>", lambda: f"Received SNMP packet(s) from {ip()}"),
        ("E12", "Bluetooth: HCI device and connection manager initialized", lambda: "Bluetooth: HCI device and connection manager initialized"),
        ("E13", "audit(<*>): initialized", lambda: f"audit({rng.randint(1100000000, 1200000000)}.{rng.randint(100,999)}:0): initialized"),
    ]
    rows = []
    for _ in range(120):
        eid, tpl, gen = rng.choice(ev)
        rows.append({"Month": "Jul", "Date": str(rng.randint(10, 17)), "Time": f"{rng.randint(0,23):02}:{rng.randint(0,59):02}:{rng.randint(0,59):02}",
                     "Level": "combo", "Component": rng.choice(["sshd(pam_unix)", "ftpd", "su(pam_unix)", "kernel", "rc"]), "Content": gen(), "EventId": eid, "EventTemplate": tpl})
    write("Syslog", r"<Month> <Date> <Time> <Level> <Component>(\[<PID>\])?: <Content>", [r"(\d+\.){3}\d+", r"\d{2}:\d{2}:\d{2}"], 0.39, 6,
          lambda r: f"{r['Month']} {r['Date']} {r['Time']} {r['Level']} {r['Component']}[{rng.randint(1000, 30000)}]: ", ["Month", "Date", "Time", "Level", "Component"], rows)

def health():
    ev = [
        ("E1", "onStandStepChanged <*>", lambda: f"onStandStepChanged {rng.randint(1000, 9999)}"),
        ("E2", "onExtend:<*> <*> <*> <*>", lambda: f"onExtend:{rng.randint(10**12, 2*10**12)} {rng.randint(0,20)} {rng.randint(0,1)} {rng.randint(0,9)}"),
        ("E3", "REPORT : <*> <*> <*> <*>", lambda: f"REPORT : {rng.randint(1000,9999)} {rng.randint(1000,9999)} {rng.randint(100000,999999)} {rng.randint(100,999)}"),
        ("E4", "calculateCaloriesWithCache totalCalories=<*>", lambda: f"calculateCaloriesWithCache totalCalories={rng.randint(100000, 200000)}"),
        ("E5", "getTodayTotalDetailSteps = <*>", lambda: "getTodayTotalDetailSteps = " + "##".join(str(rng.randint(0, 10**6)) for _ in range(rng.randint(3, 6)))),
        ("E6", "processHandleBroadcastAction action:android.intent.action.SCREEN_ON", lambda: "processHandleBroadcastAction action:android.intent.action.SCREEN_ON"),
        ("E7", "processHandleBroadcastAction action:android.intent.action.SCREEN_OFF", lambda: "processHandleBroadcastAction action:android.intent.action.SCREEN_OFF"),
        ("E8", "flush sensor data", lambda: "flush sensor data"),
        ("E9", "setTodayTotalDetailSteps=<*>", lambda: "setTodayTotalDetailSteps=" + "##".join(str(rng.randint(0, 10**6)) for _ in range(6))),
        ("E10", "upLoadOneMinuteDataToEngine time=<*>,step=<*>,type=<*>", lambda: f"upLoadOneMinuteDataToEngine time={rng.randint(10**12, 2*10**12)},step={rng.randint(0, 100)},type={rng.randint(1, 3)}"),
        ("E11", "screen status unknown,think screen on", lambda: "screen status unknown,think screen on"),
        ("E12", "insertHiHealthData() bulkSaveDetailHiHealthData fail errorCode = <*>,errorMessage = ERR_DATA_INSERT", lambda: f"insertHiHealthData() bulkSaveDetailHiHealthData fail errorCode = {rng.choice([4, 7])},errorMessage = ERR_DATA_INSERT"),
    ]
    rows = []
    for _ in range(120):
        eid, tpl, gen = rng.choice(ev)
        rows.append({"Time": f"20171223-{rng.randint(0,23)}:{rng.randint(0,59)}:{rng.randint(0,59)}:{rng.randint(0,999)}",
                     "Component": rng.choice(["Step_LSC", "Step_StandReportReceiver", "Step_SPUtils", "HiH_DataStatManager"]), "Pid": "30002312", "Content": gen(), "EventId": eid, "EventTemplate": tpl})
    write("Health", r"<Time>\|<Component>\|<Pid>\|<Content>", [], 0.2, 4,
          lambda r: f"{r['Time']}|{r['Component']}|{r['Pid']}|", ["Time", "Component", "Pid"], rows)

sshd(); dfs(); web(); syslog(); health()
