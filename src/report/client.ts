/**
 * The report's glue in the browser (plain ES2017, inlined as text): diagram click panels, and
 * the timeline's uPlot charts with synced cursors, drag-to-zoom on one shared time axis, hover
 * values, and HTML overlays for scenario bands (pre-copy rounds, the migration pause) and event
 * marks (link down/up, MAC moves, announce frames, VF changes).
 *
 * Data comes from `#vfab-data` (built by `report-data.ts`); nothing is fetched. Overlays are DOM
 * elements (not canvas pixels) so a reader can hover them and a test can find them:
 * `.band[data-kind][data-start-ns]`, `.mark[data-kind][data-t-ns]`. `window.vfabCharts` holds the
 * uPlot instances.
 */

export const PAGE_CSS = `
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:0 auto;padding:16px 24px;max-width:1400px;color:#1d2329}
h1{margin:0 0 4px;font-size:22px}h2{font-size:17px;margin:26px 0 8px;border-bottom:1px solid #dde2e6;padding-bottom:4px}
h3{font-size:14px;margin:14px 0 6px}
.meta{color:#56606a;font-size:13px;margin:2px 0}.hint{color:#6b7680;font-size:12px;margin:4px 0}
code,.mono{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px}
table{border-collapse:collapse;font-size:12px;margin:4px 0 10px}th,td{border:1px solid #dde2e6;padding:3px 7px;text-align:left;vertical-align:top}
th{background:#f4f6f8}td.num{text-align:right;font-variant-numeric:tabular-nums}
.pass{color:#17692f;font-weight:bold}.fail{color:#b3261e;font-weight:bold}.partial{background:#fff4d6;border:1px solid #e6c35c;padding:6px 10px;margin:8px 0}
.diagram-row{display:flex;gap:12px;align-items:flex-start}
.diagram-wrap{flex:1;overflow:auto;max-height:80vh;border:1px solid #dde2e6}
#detail{width:340px;flex:none;position:sticky;top:8px;border:1px solid #dde2e6;padding:8px 10px;font-size:12px;max-height:80vh;overflow:auto}
#detail h3{margin:0 0 6px}#detail .drops td{color:#b3261e}
.vfab-diagram .node,.vfab-diagram .port,.vfab-diagram .edge{cursor:pointer}
.vfab-diagram .selected>rect.box,.vfab-diagram .port.selected>rect{stroke:#ff8c00!important;stroke-width:3!important}
.vfab-diagram .edge.selected>path:first-of-type{stroke:#ff8c00!important}
.chart{position:relative;margin:6px 0 14px}.chart h3{margin:4px 0}
.band{position:absolute;top:0;bottom:0;pointer-events:auto;border-left:1px solid rgba(0,0,0,.15)}
.band-precopy{background:rgba(31,119,180,.08)}.band-pause{background:rgba(214,39,40,.18)}.band-job{background:rgba(44,160,44,.06)}
.mark{position:absolute;top:0;bottom:0;width:0;border-left:1.5px dashed #7f7f7f}
.mark-link_down{border-left-color:#d62728}.mark-link_up{border-left-color:#2ca02c}.mark-mac_move{border-left-color:#9467bd}
.mark-announce{border-left:1px dotted #ff7f0e}.mark-reconverged{border-left:2px solid #17becf}.mark-switchover{border-left:2px solid #d62728}
.mark-vf{border-left-color:#8c564b}.mark-resume{border-left:2px solid #2ca02c}
.mark:hover,.band:hover{outline:1px solid #333}
.tl-legend{font-size:12px;margin:4px 0}.tl-legend span{display:inline-block;margin-right:12px}
.tl-legend i{display:inline-block;width:12px;height:10px;margin-right:4px;vertical-align:middle}
#tl-tip{position:fixed;pointer-events:none;background:#1d2329;color:#fff;font-size:12px;padding:3px 6px;border-radius:3px;display:none;z-index:10;white-space:pre}
button{font-size:12px}
`;

export const CLIENT_JS = String.raw`(function(){
'use strict';
var DATA = JSON.parse(document.getElementById('vfab-data').textContent);
function el(tag, attrs, text){var e=document.createElement(tag);if(attrs)for(var k in attrs)e.setAttribute(k,attrs[k]);if(text!=null)e.textContent=text;return e;}
// ---- diagram: click for details ----
var detail = document.getElementById('detail');
var svg = document.querySelector('svg.vfab-diagram');
function show(id){
  var it = DATA.details && DATA.details[id];
  if(!detail) return;
  detail.textContent='';
  if(!it){detail.appendChild(el('p',{'class':'hint'},'No details for '+id));return;}
  detail.appendChild(el('h3',null,it.title));
  var t=el('table');
  (it.rows||[]).forEach(function(r){var tr=el('tr');if(r[0]){tr.appendChild(el('th',null,r[0]));tr.appendChild(el('td',{'class':'num'},r[1]));}else{var td=el('td',{colspan:'2'},r[1]);tr.appendChild(td);}t.appendChild(tr);});
  detail.appendChild(t);
  if(it.drops&&it.drops.length){detail.appendChild(el('h3',null,'drops by reason'));var d=el('table',{'class':'drops'});it.drops.forEach(function(r){var tr=el('tr');tr.appendChild(el('th',null,r[0]));tr.appendChild(el('td',{'class':'num'},String(r[1])));d.appendChild(tr);});detail.appendChild(d);}
}
if(svg){svg.addEventListener('click',function(ev){
  var t=ev.target.closest('.port')||ev.target.closest('.edge')||ev.target.closest('.edge-label')||ev.target.closest('.node');
  if(!t) return;
  var prev=svg.querySelectorAll('.selected');for(var i=0;i<prev.length;i++)prev[i].classList.remove('selected');
  var id=t.getAttribute('data-id');
  if(t.classList.contains('edge-label')){var e=svg.querySelector('.edge[data-id="'+CSS.escape(id)+'"]');if(e)t=e;}
  t.classList.add('selected');show(id);
});}
// ---- timeline ----
var TL = DATA.timeline;
var host = document.getElementById('timeline-charts');
window.vfabCharts = [];
if(!TL || !host || typeof uPlot==='undefined') return;
var tip = el('div',{id:'tl-tip'});document.body.appendChild(tip);
function fmt(v, unit){
  if(v==null) return '-';
  if(unit==='ms') return (+v.toFixed(3))+' ms';
  if(unit==='bps'){var a=Math.abs(v);return a>=1e9?+(v/1e9).toFixed(3)+' Gbit/s':a>=1e6?+(v/1e6).toFixed(3)+' Mbit/s':a>=1e3?+(v/1e3).toFixed(3)+' kbit/s':+v.toFixed(1)+' bit/s';}
  if(unit==='Bps'){var u=['B/s','KiB/s','MiB/s','GiB/s'],i=0,x=Math.abs(v);while(i<3&&x>=1024){x/=1024;i++;}return +(v/Math.pow(1024,i)).toFixed(2)+' '+u[i];}
  if(unit==='B'){var ub=['B','KiB','MiB','GiB'],j=0,y=Math.abs(v);while(j<3&&y>=1024){y/=1024;j++;}return +(v/Math.pow(1024,j)).toFixed(2)+' '+ub[j];}
  if(unit==='iops') return +v.toFixed(1)+' IOPS';
  if(unit==='us') return +v.toFixed(1)+' µs';
  return String(+v.toFixed(3));
}
// 1/2/5 x 10^n ticks; for bytes the steps are taken in the binary unit of the axis top (MiB/s...).
function niceSplits(unit){return function(u, ai, min, max){
  var div=1; if(unit==='Bps'||unit==='B'){while(max/div>=1024&&div<Math.pow(1024,4))div*=1024;}
  var lo=min/div, hi=max/div, span=hi-lo; if(!(span>0)) return [min];
  var raw=span/4, p=Math.pow(10,Math.floor(Math.log10(raw))), m=raw/p, k=m<=1?1:m<=2?2:m<=5?5:10, st=k*p, out=[];
  for(var v=Math.ceil(lo/st-1e-9)*st; v<=hi+st*1e-9; v+=st) out.push(+(v*div).toPrecision(12));
  return out;
};}
function axisVals(unit){return function(u, splits){return splits.map(function(v){return fmt(v,unit);});};}
var syncKey = uPlot.sync('vfab');
var zooming = false;
var W = Math.max(600, host.clientWidth - 20);
function placeOverlays(u){
  var ov = u.__vfabOv; if(!ov) return;
  var lo=u.scales.x.min, hi=u.scales.x.max;
  ov.forEach(function(o){
    if(o.end!=null){
      var s=Math.max(lo,o.start), e=Math.min(hi,o.end);
      if(e<=s){o.node.style.display='none';return;}
      var x0=u.valToPos(s,'x'), x1=u.valToPos(e,'x');
      o.node.style.display='';o.node.style.left=x0+'px';o.node.style.width=Math.max(1,x1-x0)+'px';
    } else {
      if(o.start<lo||o.start>hi){o.node.style.display='none';return;}
      o.node.style.display='';o.node.style.left=u.valToPos(o.start,'x')+'px';
    }
  });
}
function addOverlays(u){
  var list=[];
  (TL.bands||[]).forEach(function(b){
    var n=el('div',{'class':'band band-'+b.kind,'data-kind':b.kind,'data-start-ns':String(b.start_ns),'data-end-ns':String(b.end_ns),title:b.label});
    u.over.appendChild(n);list.push({node:n,start:b.start_ns/1e9,end:b.end_ns/1e9});
  });
  (TL.marks||[]).forEach(function(m){
    var n=el('div',{'class':'mark mark-'+m.kind,'data-kind':m.kind,'data-t-ns':String(m.t_ns),title:m.label});
    u.over.appendChild(n);list.push({node:n,start:m.t_ns/1e9,end:null});
  });
  u.__vfabOv=list;placeOverlays(u);
}
TL.charts.forEach(function(c, ci){
  var box=el('div',{'class':'chart','data-chart':c.id});
  box.appendChild(el('h3',null,c.title));
  host.appendChild(box);
  var xs={};c.series.forEach(function(s){s.points.forEach(function(p){xs[p[0]]=1;});});
  (c.lines||[]).length; 
  var xv=Object.keys(xs).map(Number).sort(function(a,b){return a-b;});
  if(xv.length===0) xv=[0,TL.end_s];
  var idx={};xv.forEach(function(x,i){idx[x]=i;});
  var data=[xv];
  var series=[{label:'time',value:function(u,v){return v==null?'-':(+v.toFixed(6))+' s';}}];
  c.series.forEach(function(s){
    var ys=new Array(xv.length).fill(null);s.points.forEach(function(p){ys[idx[p[0]]]=p[1];});data.push(ys);
    var def={label:s.label,stroke:s.color,width:s.mode==='points'?0:1.6,spanGaps:s.mode!=='points',value:(function(unit){return function(u,v){return fmt(v,unit);};})(s.unit||c.unit)};
    if(s.mode==='points'){def.paths=function(){return null;};def.points={show:true,size:s.size||5,fill:s.color,stroke:s.color};}
    else {def.points={show:false};}
    if(s.mode==='step'){def.paths=uPlot.paths.stepped({align:1});}
    series.push(def);
  });
  (c.lines||[]).forEach(function(l){
    data.push(new Array(xv.length).fill(l.y));
    series.push({label:l.label,stroke:l.color,dash:[6,4],width:1.2,points:{show:false},value:function(){return fmt(l.y,c.unit);}});
  });
  var yMax = c.y_max;
  var opts={width:W,height:c.height||200,series:series,
    scales:{x:{time:false,min:0,max:TL.end_s},y:{range:function(u,lo,hi){return [0, yMax!=null?yMax:(hi>0?hi*1.1:1)];}}},
    axes:[{label:'simulated time (s)',values:function(u,s){return s.map(function(v){return (+v.toFixed(6))+' s';});}},{label:c.y_label,size:80,values:axisVals(c.unit),splits:niceSplits(c.unit)}],
    cursor:{sync:{key:syncKey.key},drag:{x:true,y:false},points:{size:8}},
    legend:{live:true},
    hooks:{
      ready:[addOverlays],
      draw:[placeOverlays],
      setScale:[function(u,key){
        if(key!=='x'||zooming) return;
        zooming=true;
        window.vfabCharts.forEach(function(o){if(o!==u)o.setScale('x',{min:u.scales.x.min,max:u.scales.x.max});});
        zooming=false;
      }],
      setCursor:[function(u){
        var i=u.cursor.idx;
        if(i==null||u.cursor.left<0){tip.style.display='none';return;}
        var lines=[];
        for(var k=1;k<u.series.length;k++){var v=u.data[k][i];if(v!=null&&u.series[k].show&&!(c.lines&&k>c.series.length))lines.push(u.series[k].label+': '+fmt(v,(c.series[k-1]&&c.series[k-1].unit)||c.unit));}
        if(!lines.length){tip.style.display='none';return;}
        var r=u.over.getBoundingClientRect();
        tip.textContent='t='+(+u.data[0][i].toFixed(6))+' s\n'+lines.join('\n');
        tip.style.left=(r.left+u.cursor.left+12)+'px';tip.style.top=(r.top+u.cursor.top+12)+'px';tip.style.display='block';
      }]
    }};
  var u=new uPlot(opts,data,box);
  u.over.addEventListener('mouseleave',function(){tip.style.display='none';});
  u.over.addEventListener('dblclick',function(){window.vfabCharts.forEach(function(o){o.setScale('x',{min:0,max:TL.end_s});});});
  window.vfabCharts.push(u);
});
var reset=document.getElementById('tl-reset');
if(reset) reset.addEventListener('click',function(){window.vfabCharts.forEach(function(o){o.setScale('x',{min:0,max:TL.end_s});});});
})();
`;
