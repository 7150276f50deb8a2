"""Builds a held-back benchmark suite of twelve multi-class OOD tasks from public UCI data.

Usage: python3 make_suite.py OUT_DIR

Each task keeps some classes of a public classification dataset as the normal data and samples
records of the other classes as the anomalies (5-10% of the rows), split 60/40 stratified, in the
layout of the shared benchmark suites (f0..f{d-1}, label, split), with a baselines.csv of the six
classic detectors scored exactly as those suites' are (scikit-learn 1.2, StandardScaler fitted on
the train rows). Needs python3 with numpy, pandas and scikit-learn, and R with the mlbench package
(Debian: python3-sklearn, python3-pandas, r-cran-mlbench). Deterministic: one seed for every draw.

    npm run bench:quality -- --suite holdout --suite-dir OUT_DIR
"""
import numpy as np, pandas as pd, time, os, subprocess, sys, tempfile
from sklearn.preprocessing import StandardScaler
from sklearn.ensemble import IsolationForest
from sklearn.neighbors import LocalOutlierFactor, NearestNeighbors
from sklearn.svm import OneClassSVM
from sklearn.covariance import EmpiricalCovariance
from sklearn.mixture import GaussianMixture
from sklearn.metrics import roc_auc_score
from sklearn.datasets import load_digits, load_wine, load_breast_cancer
OUT=os.path.join(sys.argv[1], '') if len(sys.argv) > 1 else sys.exit(__doc__)
os.makedirs(OUT, exist_ok=True)
R=os.path.join(tempfile.mkdtemp(), '')
MLBENCH=['LetterRecognition','Vowel','Glass','Ionosphere','Sonar','Vehicle','Satellite','PimaIndiansDiabetes']
subprocess.run(['Rscript','-e','library(mlbench); for (n in c(%s)) { data(list=n); write.csv(get(n), file.path("%s", paste0(n, ".csv")), row.names=FALSE) }' % (','.join('"%s"' % n for n in MLBENCH), R)], check=True)
rng=np.random.RandomState(7)
def task(name,X,cls,normal,rate=0.08,maxn=None):
    X=np.asarray(X,float); cls=np.asarray(cls).astype(str)
    nm=np.isin(cls,[str(c) for c in normal])
    Xn=X[nm]; Xa=X[~nm]
    if maxn and len(Xn)>maxn: Xn=Xn[rng.choice(len(Xn),maxn,replace=False)]
    na=max(4,int(round(rate*len(Xn)/(1-rate))))
    Xa=Xa[rng.choice(len(Xa),min(na,len(Xa)),replace=False)]
    Xall=np.vstack([Xn,Xa]); y=np.r_[np.zeros(len(Xn)),np.ones(len(Xa))].astype(int)
    # stratified 60/40
    split=np.empty(len(y),dtype=object)
    for lab in (0,1):
        idx=np.where(y==lab)[0]; rng.shuffle(idx); k=int(round(0.6*len(idx)))
        split[idx[:k]]='train'; split[idx[k:]]='test'
    df=pd.DataFrame(Xall,columns=[f'f{i}' for i in range(X.shape[1])]); df['label']=y; df['split']=split
    df.to_csv(OUT+name+'.csv',index=False)
    return name
def base(name):
    df=pd.read_csv(OUT+name+'.csv'); f=[c for c in df.columns if c.startswith('f')]
    tr=df[df.split=='train']; te=df[df.split=='test']
    sc=StandardScaler().fit(tr[f].values); A=sc.transform(tr[f].values); B=sc.transform(te[f].values); y=te.label.values
    rows=[]
    def add(m,s,t):
        rows.append(dict(dataset=name,method=m,auroc=round(roc_auc_score(y,s),4),auroc_se='',fit_s=round(t,3),score_rows_per_s='',n_train=len(tr),n_test=len(te),test_anomalies=int(y.sum()),features=len(f),error=''))
    t=time.time(); m=IsolationForest(n_estimators=100,random_state=0).fit(A); add('IForest',-m.score_samples(B),time.time()-t)
    t=time.time(); m=LocalOutlierFactor(n_neighbors=20,novelty=True).fit(A); add('LOF',-m.score_samples(B),time.time()-t)
    t=time.time(); m=OneClassSVM(gamma='scale',nu=0.1).fit(A); add('OCSVM',-m.score_samples(B),time.time()-t)
    t=time.time(); nn=NearestNeighbors(n_neighbors=5).fit(A); add('KNN',nn.kneighbors(B)[0].mean(1),time.time()-t)
    t=time.time(); m=EmpiricalCovariance().fit(A); add('Gaussian',m.mahalanobis(B),time.time()-t)
    t=time.time(); m=GaussianMixture(n_components=5,covariance_type='full',random_state=0).fit(A); add('GMM',-m.score_samples(B),time.time()-t)
    return rows
names=[]
L=pd.read_csv(R+'LetterRecognition.csv'); Xl=L.drop(columns='lettr').values; cl=L.lettr.values
names.append(task('letter_aj',Xl,cl,list('ABCDEFGHIJ'),0.06,maxn=1500))
names.append(task('letter_vowels',Xl,cl,list('BCDFGHJKLM'),0.06,maxn=1000))
V=pd.read_csv(R+'Vowel.csv'); Xv=V.drop(columns=['Class','V1']).values
names.append(task('vowel_6',Xv,V.Class.values,sorted(V.Class.unique())[:6],0.06))
G=pd.read_csv(R+'Glass.csv'); names.append(task('glass',G.drop(columns='Type').values,G.Type.values,[1,2,3,7],0.06))
I=pd.read_csv(R+'Ionosphere.csv').drop(columns=['V2']); I['V1']=I['V1'].astype(float)
names.append(task('ionosphere',I.drop(columns='Class').values,I.Class.values,['good'],0.10))
S=pd.read_csv(R+'Sonar.csv'); names.append(task('sonar',S.drop(columns='Class').values,S.Class.values,['R'],0.08))
Ve=pd.read_csv(R+'Vehicle.csv'); names.append(task('vehicle',Ve.drop(columns='Class').values,Ve.Class.values,['bus','opel','saab'],0.06))
P=pd.read_csv(R+'PimaIndiansDiabetes.csv'); names.append(task('pima',P.drop(columns='diabetes').values,P.diabetes.values,['neg'],0.10))
d=load_digits(); names.append(task('digits_04',d.data,d.target,[0,1,2,3,4],0.06))
w=load_wine(); names.append(task('wine',w.data,w.target,[0,1],0.08))
b=load_breast_cancer(); names.append(task('wdbc',b.data,b.target,[1],0.05))
Sa=pd.read_csv(R+'Satellite.csv'); names.append(task('sat_multi',Sa.drop(columns='classes').values,Sa.classes.values,sorted(Sa.classes.unique())[:4],0.06,maxn=2000))
rows=[]
for n in names: rows+=base(n)
bdf=pd.DataFrame(rows); bdf.to_csv(OUT+'baselines.csv',index=False)
piv=bdf.pivot(index='dataset',columns='method',values='auroc'); piv['n']=bdf.groupby('dataset').n_train.first(); piv['d']=bdf.groupby('dataset').features.first()
print(piv.round(3)); print(piv.mean().round(3))

